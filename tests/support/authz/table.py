"""The expected authorisation of the API, written out from SPEC (sections 1, 2, 4, 5.1).

Every row is (route as Flask spells it, scenario) → the status each caller must get,
in the order of :data:`CALLERS`. "own" is data of sales1 (a client sales1 owns, a case
on it, sales1's own notification), "other" the same thing belonging to sales2; callers
other than sales1 are not owners, so for them the two columns differ only where a rule
says so. The rows were written from the product's role table, not by watching the code;
where SPEC is silent the safer reading is taken and marked ``# SPEC silent:``.

Rules read off SPEC and used throughout:
- anonymous gets 401 everywhere but sign-in, the OpenAPI document and the signed webhook;
- a case (workflow instance) that the caller may not see is 404, never 403 (sales see
  cases on clients they own; risk, legal, manager and auditor see every case; admin,
  "not a business approver", sees none);
- a caller who may see a case but lacks the role or breaks segregation of duties gets 403;
- auditors never act or edit (403); admins manage users and definitions, not business data;
- the audit trail (search, verify, export) is for auditors; reports for auditors and managers.
"""

from __future__ import annotations

CALLERS = ("anonymous", "sales1", "risk1", "legal1", "manager1", "auditor1", "admin")
OWNERS = {"own": "sales1", "other": "sales2", "-": "sales1"}

# Column order:                         anon sales1 risk1 legal1 manager1 auditor1 admin
EXPECTED: dict[tuple[str, str], tuple[int, ...]] = {
    # --- sign-in and documentation (public) -------------------------------------------
    # each caller signs in with its own password; anonymous with a wrong one
    ("POST /api/v1/auth/token", "-"): (401, 200, 200, 200, 200, 200, 200),
    # signing out revokes the caller's own token (a fresh one here); anonymous has none
    ("DELETE /api/v1/auth/token", "-"): (401, 204, 204, 204, 204, 204, 204),
    ("GET /api/v1/openapi.json", "-"): (200, 200, 200, 200, 200, 200, 200),
    # --- the client archive -------------------------------------------------
    # everyone signed in may list; what each sees is in VISIBLE below
    ("GET /api/v1/clients", "-"): (401, 200, 200, 200, 200, 200, 200),
    # sales create clients they own; risk officers and managers create on behalf of a
    # sales owner; legal, auditor, admin never
    ("POST /api/v1/clients", "own"): (401, 201, 201, 403, 201, 403, 403),
    ("POST /api/v1/clients", "other"): (401, 403, 201, 403, 201, 403, 403),
    # SPEC silent on admin reading clients: safer rule, admin (user administration) reads
    # no client data at all (403 whatever the id: no role of theirs reads one)
    # another owner's client is not found for sales, as another owner's case is (a 403
    # would tell which ids and credit codes exist)
    ("GET /api/v1/clients/<int:client_id>", "own"): (401, 200, 200, 200, 200, 200, 403),
    ("GET /api/v1/clients/<int:client_id>", "other"): (401, 404, 200, 200, 200, 200, 403),
    # the full risk report: the roles that see financials; sales never
    ("GET /api/v1/clients/<int:client_id>/report", "own"): (401, 403, 200, 200, 200, 200, 403),
    ("GET /api/v1/clients/<int:client_id>/report", "other"): (401, 404, 200, 200, 200, 200, 403),
    # the PIPL data-subject export: legal and managers only
    ("GET /api/v1/clients/<int:client_id>/personal-data", "own"): (
        401,
        403,
        403,
        200,
        200,
        403,
        403,
    ),
    ("GET /api/v1/clients/<int:client_id>/personal-data", "other"): (
        401,
        403,
        403,
        200,
        200,
        403,
        403,
    ),
    # non-sensitive edit: sales on their own clients; risk officers and managers on any
    ("PATCH /api/v1/clients/<int:client_id>", "own"): (401, 200, 200, 403, 200, 403, 403),
    ("PATCH /api/v1/clients/<int:client_id>", "other"): (401, 404, 200, 403, 200, 403, 403),
    # a batch import is client creation/editing: the same roles; a row naming a client the
    # sales caller does not own is a row error (422, nothing imported)
    ("POST /api/v1/clients/import", "own"): (401, 200, 200, 403, 200, 403, 403),
    ("POST /api/v1/clients/import", "other"): (401, 422, 200, 403, 200, 403, 403),
    # admissions are submitted by sales for their clients
    ("POST /api/v1/clients/<int:client_id>/admission", "own"): (401, 201, 403, 403, 403, 403, 403),
    ("POST /api/v1/clients/<int:client_id>/admission", "other"): (
        401,
        404,
        403,
        403,
        403,
        403,
        403,
    ),
    # ... also when it is only started as a draft (submit: false)
    ("POST /api/v1/clients/<int:client_id>/admission", "draft own"): (
        401,
        201,
        403,
        403,
        403,
        403,
        403,
    ),
    ("POST /api/v1/clients/<int:client_id>/admission", "draft other"): (
        401,
        404,
        403,
        403,
        403,
        403,
        403,
    ),
    # sensitive edits are requested by sales (own clients) and by the approver roles
    # (maker-checker: they then cannot approve their own); never by auditor or admin
    ("POST /api/v1/clients/<int:client_id>/change-requests", "own"): (
        401,
        201,
        201,
        201,
        201,
        403,
        403,
    ),
    ("POST /api/v1/clients/<int:client_id>/change-requests", "other"): (
        401,
        404,
        201,
        201,
        201,
        403,
        403,
    ),
    # the requested values: whoever sees the case (masking in MASKED below)
    ("GET /api/v1/clients/<int:client_id>/change-requests/<int:instance_id>/values", "own"): (
        401,
        200,
        200,
        200,
        200,
        200,
        404,
    ),
    ("GET /api/v1/clients/<int:client_id>/change-requests/<int:instance_id>/values", "other"): (
        401,
        404,
        200,
        200,
        200,
        200,
        404,
    ),
    # PIPL erasure requests: legal and managers only (the role table), whose client it is does
    # not matter; the role is checked before the client is looked up (403 for sales either way)
    ("POST /api/v1/clients/<int:client_id>/erasure", "own"): (401, 403, 403, 201, 201, 403, 403),
    ("POST /api/v1/clients/<int:client_id>/erasure", "other"): (401, 403, 403, 201, 201, 403, 403),
    # ad-hoc due diligence: risk officers and managers (may do what risk may)
    ("POST /api/v1/clients/<int:client_id>/due-diligence", "own"): (
        401,
        403,
        201,
        403,
        201,
        403,
        403,
    ),
    ("POST /api/v1/clients/<int:client_id>/due-diligence", "other"): (
        401,
        403,
        201,
        403,
        201,
        403,
        403,
    ),
    # --- evidence of a due-diligence case (part of the risk report: never for sales) ------
    ("GET /api/v1/workflows/<int:instance_id>/evidence", "own"): (
        401,
        403,
        200,
        200,
        200,
        200,
        404,
    ),
    ("GET /api/v1/workflows/<int:instance_id>/evidence", "other"): (
        401,
        404,
        200,
        200,
        200,
        200,
        404,
    ),
    # uploaded by the analyst roles (risk officers, managers)
    ("POST /api/v1/workflows/<int:instance_id>/evidence", "own"): (
        401,
        403,
        201,
        403,
        201,
        403,
        404,
    ),
    ("POST /api/v1/workflows/<int:instance_id>/evidence", "other"): (
        401,
        404,
        201,
        403,
        201,
        403,
        404,
    ),
    ("GET /api/v1/workflows/<int:instance_id>/evidence/<string:sha256>", "own"): (
        401,
        403,
        200,
        200,
        200,
        200,
        404,
    ),
    ("GET /api/v1/workflows/<int:instance_id>/evidence/<string:sha256>", "other"): (
        401,
        404,
        200,
        200,
        200,
        200,
        404,
    ),
    # an alert being rectified (responded) takes proof from the owner and the risk team;
    # sales may fetch back what they uploaded themselves, never the risk team's files
    ("POST /api/v1/workflows/<int:instance_id>/evidence", "alert own"): (
        401,
        201,
        201,
        403,
        201,
        403,
        404,
    ),
    ("POST /api/v1/workflows/<int:instance_id>/evidence", "alert other"): (
        401,
        404,
        201,
        403,
        201,
        403,
        404,
    ),
    (
        "GET /api/v1/workflows/<int:instance_id>/evidence/<string:sha256>",
        "alert owner's file own",
    ): (401, 200, 200, 200, 200, 200, 404),
    (
        "GET /api/v1/workflows/<int:instance_id>/evidence/<string:sha256>",
        "alert owner's file other",
    ): (401, 404, 200, 200, 200, 200, 404),
    ("GET /api/v1/workflows/<int:instance_id>/evidence/<string:sha256>", "alert risk's file own"): (
        401,
        403,
        200,
        200,
        200,
        200,
        404,
    ),
    (
        "GET /api/v1/workflows/<int:instance_id>/evidence/<string:sha256>",
        "alert risk's file other",
    ): (401, 404, 200, 200, 200, 200, 404),
    # --- alerts ----------------------------------------------------------------
    ("GET /api/v1/alerts", "-"): (401, 200, 200, 200, 200, 200, 200),
    # raised by the risk team (risk officers, managers) and systems; sales respond to them
    ("POST /api/v1/alerts", "own"): (401, 403, 201, 403, 201, 403, 403),
    ("POST /api/v1/alerts", "other"): (401, 403, 201, 403, 201, 403, 403),
    # the signature is the credential: a bearer token of any role does not replace it
    ("POST /api/v1/alerts/webhook", "unsigned"): (401, 401, 401, 401, 401, 401, 401),
    ("POST /api/v1/alerts/webhook", "signed"): (201, 201, 201, 201, 201, 201, 201),
    # --- risk events and the rating history ------------------------------------
    # the risk picture is read by the roles that see everything on a client; sales (who
    # never see the full risk report) and admin get 403 whatever the client
    ("GET /api/v1/clients/<int:client_id>/events", "own"): (401, 403, 200, 200, 200, 200, 403),
    ("GET /api/v1/clients/<int:client_id>/events", "other"): (401, 403, 200, 200, 200, 200, 403),
    # recorded by risk officers, managers and legal (who learn of lawsuits); never by
    # sales, auditors or admin
    ("POST /api/v1/clients/<int:client_id>/events", "own"): (401, 403, 201, 201, 201, 403, 403),
    ("POST /api/v1/clients/<int:client_id>/events", "other"): (401, 403, 201, 201, 201, 403, 403),
    ("GET /api/v1/clients/<int:client_id>/ratings", "own"): (401, 403, 200, 200, 200, 200, 403),
    ("GET /api/v1/clients/<int:client_id>/ratings", "other"): (401, 403, 200, 200, 200, 200, 403),
    # the signature is the credential, as for alerts
    ("POST /api/v1/events/webhook", "unsigned"): (401, 401, 401, 401, 401, 401, 401),
    ("POST /api/v1/events/webhook", "signed"): (200, 200, 200, 200, 200, 200, 200),
    # --- in-app notifications: each user's own only ---------------------------------------
    ("GET /api/v1/notifications", "-"): (401, 200, 200, 200, 200, 200, 200),
    # "own" = the caller's own notification; "other" = sales2's (never revealed: 404)
    ("POST /api/v1/notifications/<int:notification_id>/read", "own"): (
        401,
        200,
        200,
        200,
        200,
        200,
        200,
    ),
    ("POST /api/v1/notifications/<int:notification_id>/read", "other"): (
        401,
        404,
        404,
        404,
        404,
        404,
        404,
    ),
    ("POST /api/v1/notifications/read-all", "-"): (401, 200, 200, 200, 200, 200, 200),
    # --- auditor views ----------------------------------------------------
    ("GET /api/v1/audit", "-"): (401, 403, 403, 403, 403, 200, 403),
    ("GET /api/v1/audit/verify", "-"): (401, 403, 403, 403, 403, 200, 403),
    # the access log of client reads: auditors search it, and managers
    ("GET /api/v1/audit/reads", "-"): (401, 403, 403, 403, 200, 200, 403),
    ("GET /api/v1/audit/export", "own"): (401, 403, 403, 403, 403, 200, 403),
    ("GET /api/v1/audit/export", "other"): (401, 403, 403, 403, 403, 200, 403),
    # reports: the auditor pages and the managers' dashboards
    ("GET /api/v1/reports/closed-loops", "-"): (401, 403, 403, 403, 200, 200, 403),
    ("GET /api/v1/reports/sla", "-"): (401, 403, 403, 403, 200, 200, 403),
    # --- definitions (read by every user; changed by admins through files, not the API) ----
    ("GET /api/v1/definitions", "-"): (401, 200, 200, 200, 200, 200, 200),
    ("GET /api/v1/definitions/<string:name>", "-"): (401, 200, 200, 200, 200, 200, 200),
    # --- governed configuration: read by risk, managers, auditors and admins; drafted by
    # risk officers; approving a draft is the workflow action (manager, not maker)
    ("GET /api/v1/config", "-"): (401, 403, 200, 403, 200, 200, 200),
    ("GET /api/v1/config/<string:kind>", "-"): (401, 403, 200, 403, 200, 200, 200),
    ("GET /api/v1/config/changes/<int:change_id>/progress", "-"): (
        401,
        403,
        200,
        403,
        200,
        200,
        200,
    ),
    ("POST /api/v1/config/<string:kind>/drafts", "-"): (401, 403, 201, 403, 403, 403, 403),
    # moving running cases to another definition version: administrators only
    ("POST /api/v1/definitions/<string:name>/migrations", "-"): (401, 403, 403, 403, 403, 403, 200),
    ("GET /api/v1/definitions/<string:name>/migrations/<int:migration_id>", "-"): (
        401,
        403,
        403,
        403,
        403,
        403,
        200,
    ),
    ("POST /api/v1/definitions/<string:name>/migrations/<int:migration_id>/revert", "-"): (
        401,
        403,
        403,
        403,
        403,
        403,
        200,
    ),
    # --- inbox and cases ------------------------------------------------------------------
    ("GET /api/v1/tasks", "-"): (401, 200, 200, 200, 200, 200, 200),
    ("GET /api/v1/workflows", "-"): (401, 200, 200, 200, 200, 200, 200),
    ("GET /api/v1/workflows/<int:instance_id>", "own"): (401, 200, 200, 200, 200, 200, 404),
    ("GET /api/v1/workflows/<int:instance_id>", "other"): (401, 404, 200, 200, 200, 200, 404),
    ("GET /api/v1/workflows/<int:instance_id>/audit", "own"): (401, 200, 200, 200, 200, 200, 404),
    ("GET /api/v1/workflows/<int:instance_id>/audit", "other"): (401, 404, 200, 200, 200, 200, 404),
}

# Actions: one route, authorised per definition and trigger (the transition's roles and
# guards). Scenario "definition.trigger@state own|other".
ACTION = "POST /api/v1/workflows/<int:instance_id>/actions/<string:trigger>"
ACTIONS: dict[str, tuple[int, ...]] = {
    # onboarding: sales submit and withdraw their own; one risk officer (or a
    # manager) decides at risk_review, never the submitter
    "client_onboarding.submit@draft own": (401, 200, 403, 403, 403, 403, 404),
    "client_onboarding.submit@draft other": (401, 404, 403, 403, 403, 403, 404),
    "client_onboarding.approve@risk_review own": (401, 403, 200, 403, 200, 403, 404),
    "client_onboarding.approve@risk_review other": (401, 404, 200, 403, 200, 403, 404),
    "client_onboarding.return_for_info@risk_review own": (401, 403, 200, 403, 200, 403, 404),
    "client_onboarding.return_for_info@risk_review other": (401, 404, 200, 403, 200, 403, 404),
    # The admission names "one risk officer" at risk_review; legal decides only high-risk
    # admissions (dual_approval), so legal may not reject at risk_review (definition v3)
    "client_onboarding.reject@risk_review own": (401, 403, 200, 403, 200, 403, 404),
    "client_onboarding.reject@risk_review other": (401, 404, 200, 403, 200, 403, 404),
    "client_onboarding.withdraw@risk_review own": (401, 200, 403, 403, 403, 403, 404),
    "client_onboarding.withdraw@risk_review other": (401, 404, 403, 403, 403, 403, 404),
    # a possible watch-list name match: a risk officer or a manager, not the submitter,
    # confirms it or clears it as a false positive (legal decides only dual approvals)
    "client_onboarding.confirm_match@name_review own": (401, 403, 200, 403, 200, 403, 404),
    "client_onboarding.confirm_match@name_review other": (401, 404, 200, 403, 200, 403, 404),
    "client_onboarding.clear_matches@name_review own": (401, 403, 200, 403, 200, 403, 404),
    "client_onboarding.clear_matches@name_review other": (401, 404, 200, 403, 200, 403, 404),
    # sensitive edit, requested by the client's owner: risk, legal, manager
    # approve or reject; only the requester cancels; auditor and admin never approve
    "sensitive_edit.approve@requested own": (401, 403, 200, 200, 200, 403, 404),
    "sensitive_edit.approve@requested other": (401, 404, 200, 200, 200, 403, 404),
    "sensitive_edit.reject@requested own": (401, 403, 200, 200, 200, 403, 404),
    "sensitive_edit.reject@requested other": (401, 404, 200, 200, 200, 403, 404),
    "sensitive_edit.cancel@requested own": (401, 200, 403, 403, 403, 403, 404),
    "sensitive_edit.cancel@requested other": (401, 404, 403, 403, 403, 403, 404),
    # due diligence, opened by risk2 who is also the analyst: risk officers and
    # managers work it; the reviewer is not the analyst (risk1 is not)
    "due_diligence.start@opened own": (401, 403, 200, 403, 200, 403, 404),
    "due_diligence.start@opened other": (401, 404, 200, 403, 200, 403, 404),
    "due_diligence.pass@under_review own": (401, 403, 200, 403, 200, 403, 404),
    "due_diligence.pass@under_review other": (401, 404, 200, 403, 200, 403, 404),
    "due_diligence.send_back@under_review own": (401, 403, 200, 403, 200, 403, 404),
    "due_diligence.send_back@under_review other": (401, 404, 200, 403, 200, 403, 404),
    # alert remediation, raised by risk2 on the client: the owner and the risk
    # team respond and rectify; a reviewer (risk, manager) who did not rectify reviews
    "alert_remediation.respond@warned own": (401, 200, 200, 403, 200, 403, 404),
    "alert_remediation.respond@warned other": (401, 404, 200, 403, 200, 403, 404),
    "alert_remediation.rectify@responded own": (401, 200, 200, 403, 200, 403, 404),
    "alert_remediation.rectify@responded other": (401, 404, 200, 403, 200, 403, 404),
    "alert_remediation.review@rectified own": (401, 403, 200, 403, 200, 403, 404),
    "alert_remediation.review@rectified other": (401, 404, 200, 403, 200, 403, 404),
    "alert_remediation.reopen@rectified own": (401, 403, 200, 403, 200, 403, 404),
    "alert_remediation.reopen@rectified other": (401, 404, 200, 403, 200, 403, 404),
    "alert_remediation.dismiss@responded own": (401, 403, 200, 403, 200, 403, 404),
    "alert_remediation.dismiss@responded other": (401, 404, 200, 403, 200, 403, 404),
    # erasure, requested by legal1: a manager (never the requester) approves or rejects;
    # only the requester cancels
    "erasure.approve@requested own": (401, 403, 403, 403, 200, 403, 404),
    "erasure.approve@requested other": (401, 404, 403, 403, 200, 403, 404),
    "erasure.reject@requested own": (401, 403, 403, 403, 200, 403, 404),
    "erasure.reject@requested other": (401, 404, 403, 403, 200, 403, 404),
    "erasure.cancel@requested own": (401, 403, 403, 200, 403, 403, 404),
    "erasure.cancel@requested other": (401, 404, 403, 200, 403, 403, 404),
}
EXPECTED.update({(ACTION, scenario): row for scenario, row in ACTIONS.items()})

# Roles before bodies: a caller refused a cell (401, 403, 404) gets the same
# refusal whatever the request carries: a malformed body, query values the operation refuses,
# an unknown query parameter. Except where the refusal is read from the body itself:
BODY_DECIDES: dict[tuple[str, str], frozenset[str]] = {
    # the body is the credential
    ("POST /api/v1/auth/token", "-"): frozenset({"anonymous"}),
    # sales create clients, only never for another owner, which the body names
    ("POST /api/v1/clients", "other"): frozenset({"sales1"}),
}

# Lists: does the caller's page include sales2's item? (None: not checked for this caller.)
# Column order:                         anon  sales1 risk1 legal1 manager1 auditor1 admin
VISIBLE: dict[str, tuple[bool | None, ...]] = {
    "GET /api/v1/clients": (None, False, True, True, True, True, False),
    "GET /api/v1/workflows": (None, False, True, True, True, True, False),
    "GET /api/v1/alerts": (None, False, True, True, True, True, False),
    # sales2's case waits for a risk decision: in the deciders' inbox, never in sales1's,
    # never in an auditor's or admin's (they cannot act)
    "GET /api/v1/tasks": (None, False, True, None, True, False, False),
    "GET /api/v1/notifications": (None, False, False, False, False, False, False),
}

# Masking: how the caller reads a sensitive value of sales1's client.
# "full": the stored value; "masked": never the stored value; None: the read is refused.
# Column order:                         anon  sales1    risk1   legal1  manager1 auditor1 admin
MASKED: dict[str, tuple[str | None, ...]] = {
    "client.bank_account": (None, "masked", "full", "full", "full", "full", None),
    # the owner sees the contacts they collected in full
    "client.contacts.phone": (None, "full", "full", "full", "full", "full", None),
    "client.registered_capital": (None, "masked", "full", "full", "full", "full", None),
    "client list.bank_account": (None, "masked", "full", "full", "full", "full", None),
    "change values.bank_account": (None, "masked", "full", "full", "full", "full", None),
    # a case view is not a recorded read: the bank account stays masked for everyone
    "change case.bank_account": (None, "masked", "masked", "masked", "masked", "masked", None),
    # the risk report behind the rating (scores, fired rules) is for the approver roles
    "onboarding case.screening": (None, "masked", "full", "full", "full", "full", None),
    # the due-diligence findings and evidence list
    "due diligence case.checklist": (None, "masked", "full", "full", "full", "full", None),
    # audit payloads of other people's actions (screening scores, checklists, diffs)
    "case audit.payload": (None, "masked", "full", "full", "full", "full", None),
}
