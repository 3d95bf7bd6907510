"""Client onboarding (客户准入): starting an admission, screening, and the effects that
keep the client record in step with the case (definitions/client_onboarding.yaml)."""

from __future__ import annotations

import logging
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import texts
from workflow.engine import firing as engine
from workflow.engine.context import FireContext, TaskContext
from workflow.engine.registry import Registry
from workflow.errors import Conflict, Forbidden, Message
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.clients.masking import can_see_sensitive
from workflow.risk.clients.model import Client, get_client
from workflow.risk.clients.queries import visible_client, with_client_name
from workflow.risk.clients.sealing import erased_refusal
from workflow.risk.clients.service import SUSPENDED, apply_changes
from workflow.risk.due_diligence.periodic_review import schedule_periodic_review
from workflow.risk.events.rerating import event_facts, record_screening_rating, rule_set_label
from workflow.risk.governance.active import active_rule_set
from workflow.risk.screening.providers import configured_providers
from workflow.risk.screening.screen import screen
from workflow.risk.screening.watchlist import WatchlistClearance, cleared_keys

registry = Registry()

log = logging.getLogger(__name__)

DEFINITION = "client_onboarding"
SCREENING_ACTOR = Actor.system("screening")
STARTER_ROLES = frozenset({"sales", "risk_officer", "manager"})
# A client in one of these may not start a new admission.
NOT_ADMISSIBLE = ("active", "suspended", "offboarded")


def running_admission(session: Session, client_id: int) -> WorkflowInstance | None:
    """The client's open onboarding case, if any."""
    return session.execute(
        select(WorkflowInstance)
        .where(
            WorkflowInstance.definition == DEFINITION,
            WorkflowInstance.subject_type == "client",
            WorkflowInstance.subject_id == client_id,
            WorkflowInstance.is_open.is_(True),
        )
        .limit(1)
    ).scalar_one_or_none()


def admissible_client(
    session: Session, client_id: int, actor: Actor, *, lock: bool = False
) -> Client:
    """The client ``actor`` may start an admission for (before anything else is read).

    Raises:
        Forbidden: not a sales user (whether the client exists or not).
        NotFound: no such client, or (sales) one owned by someone else.
    """
    # Sales submit admissions; a draft started by anyone else could never be
    # submitted by them and would block the owner's admission.
    if "sales" not in actor.roles:
        raise Forbidden(
            "starting an admission needs the sales role", rule="role", code="admission.role"
        )
    client = visible_client(session, client_id, actor, lock=lock)
    if client.erased_at is not None:
        raise erased_refusal(client.id)
    if not actor.has_any(STARTER_ROLES - {"sales"}) and client.owner != actor.username:
        # one who sees every client (an auditor who also sells) still submits only their own
        raise Forbidden(
            f"client {client_id} is owned by another sales user",
            rule="owner",
            code="client.owner",
            params={"client_id": client_id},
        )
    return client


def start_admission(
    session: Session,
    client_id: int,
    actor: Actor,
    *,
    submit: bool = True,
    comment: str | None = None,
    request_id: str | None = None,
) -> WorkflowInstance:
    """Start onboarding for a client and, unless ``submit`` is false, submit it at once.

    Raises:
        Forbidden: a role that may not start admissions.
        NotFound: no such client, or (sales) someone else's.
        Conflict: an admission is already running, or the client is already admitted.
    """
    client = admissible_client(session, client_id, actor, lock=True)  # serialises concurrent starts
    running = running_admission(session, client_id)
    if running is not None:
        raise Conflict(
            f"client {client_id} already has an admission running (case #{running.id}, "
            f"{running.state}); act on that case or withdraw it first",
            instance_id=running.id,
            code="admission.running",
            params={"client_id": client_id, "case_id": running.id},
        )
    if client.status in NOT_ADMISSIBLE:
        raise Conflict(
            f"client {client_id} is {client.status}; only prospects and rejected "
            "clients can be submitted for admission",
            status_now=client.status,
            code="admission.status",
            params={"client_id": client_id, "status": client.status},
        )
    instance = engine.start(
        session,
        DEFINITION,
        actor,
        subject_type="client",
        subject_id=client.id,
        data={
            # the name by reference (with_client_name): the trail keeps no copy of it
            "client_id": client.id,
            "credit_code": client.credit_code,
        },
        comment=comment,
        request_id=request_id,
    )
    if submit:
        engine.fire(session, instance.id, "submit", actor, comment=comment, request_id=request_id)
    return instance


def _client(ctx: FireContext) -> Client:
    return get_client(ctx.session, int(ctx.instance.subject_id or 0), lock=True)


def _status(client: Client, status: str) -> dict[str, str]:
    """The status an admission step gives ``client``: while a black alert or a blacklisting
    holds it suspended the step changes the status it
    will be reinstated to, never the suspension itself."""
    if client.status == SUSPENDED and client.status_before_suspension is not None:
        return {"status_before_suspension": status}
    return {"status": status}


def _set_status(ctx: FireContext, status: str, **payload: Any) -> Client:
    client = _client(ctx)
    apply_changes(
        ctx.session,
        client,
        _status(client, status),
        ctx.actor,
        "client.status_changed",
        instance_id=ctx.instance.id,
        **payload,
    )
    return client


@registry.guard("client_owner_only")
def client_owner_only(ctx: FireContext) -> str | None:
    """Sales act only on admissions of clients they own."""
    if ctx.actor.has_any(STARTER_ROLES - {"sales"}) or ctx.actor.is_system:
        return None
    client = ctx.session.get(Client, ctx.instance.subject_id)
    if client is None or client.owner != ctx.actor.username:
        return Message("guard.client_owner", "only the client's owner may do this")
    return None


@registry.effect("mark_client_pending")
def mark_client_pending(ctx: FireContext) -> None:
    _set_status(ctx, "pending_admission")


@registry.effect("mark_client_prospect")
def mark_client_prospect(ctx: FireContext) -> None:
    _set_status(ctx, "prospect")


@registry.effect("cancel_due_diligence")
def cancel_due_diligence(ctx: FireContext) -> None:
    """Withdrawing during due diligence cancels the review it started (same transaction)."""
    child = ctx.instance.data.get("due_diligence_id")
    if ctx.from_state != "due_diligence" or not child:
        return
    engine.fire(
        ctx.session,
        child,
        "cancel",
        Actor.system("onboarding"),
        comment=texts.say("comment.admission_withdrawn"),
    )
    ctx.audit["due_diligence_cancelled"] = child


@registry.effect("reject_client")
def reject_client(ctx: FireContext) -> None:
    """The client is rejected; the reasons (screening, due diligence or the reviewer's
    comment) are kept on the case."""
    reasons = list(ctx.payload.get("reasons") or []) or [ctx.comment or "rejected"]
    ctx.instance.data = {**ctx.instance.data, "rejection_reasons": reasons}
    _set_status(ctx, "rejected", reasons=reasons)


@registry.effect("record_screening")
def record_screening(ctx: FireContext) -> None:
    """Store the rating and its explanation on the client and on the case."""
    client = _client(ctx)
    report = dict(ctx.payload)
    matches = report.pop("possible_matches", None) or []
    values: dict[str, Any] = {
        "rating": report["rating"],
        "risk_level": report["risk_level"],
        "risk_score": Decimal(str(report["score"])),
    }
    if any(c.get("facts", {}).get("blacklisted") for c in report.get("checks") or []):
        values["blacklisted"] = True
    apply_changes(
        ctx.session, client, values, ctx.actor, "client.screened", instance_id=ctx.instance.id
    )
    client.screening = {**report, "instance_id": ctx.instance.id, "at": ctx.now.isoformat() + "Z"}
    ctx.instance.data = {**ctx.instance.data, "screening": report, "possible_matches": matches}
    rules = active_rule_set(ctx.session)
    record = record_screening_rating(ctx.session, client, report, rule_set_label(rules), ctx.now)
    ctx.audit["rating_record"] = record.id
    if matches:
        ctx.audit["possible_matches"] = [
            {k: m.get(k) for k in ("list", "name", "score", "match")} for m in matches
        ]


@registry.effect("confirm_name_match")
def confirm_name_match(ctx: FireContext) -> None:
    """The reviewer finds the client is the listed party: it is blacklisted (and the case
    rejected by the next effect, with the reviewer's comment as the reason)."""
    client = _client(ctx)
    matches = list(ctx.instance.data.get("possible_matches") or [])
    apply_changes(
        ctx.session,
        client,
        {"blacklisted": True},
        ctx.actor,
        "client.watchlist_match_confirmed",
        instance_id=ctx.instance.id,
        matches=[{k: m.get(k) for k in ("list", "name", "score", "match")} for m in matches],
    )
    ctx.instance.data = {
        **ctx.instance.data,
        "name_review": {"outcome": "confirmed", "by": ctx.actor.username, "reason": ctx.comment},
    }


@registry.effect("clear_name_matches")
def clear_name_matches(ctx: FireContext) -> None:
    """The reviewer finds the matches are not this client: each is remembered for the
    entry's content, so the same pair is not raised again until the entry changes."""
    client_id = int(ctx.instance.subject_id or 0)
    matches = list(ctx.instance.data.get("possible_matches") or [])
    known = cleared_keys(ctx.session, client_id)
    for match in matches:
        key = (str(match.get("list", "")), str(match.get("content_key", "")))
        if key in known or not key[1]:
            continue
        known.add(key)
        ctx.session.add(
            WatchlistClearance(
                client_id=client_id,
                list_name=key[0],
                content_key=key[1],
                entry_name=str(match.get("name", ""))[:200],
                reason=ctx.comment or "",
                cleared_by=ctx.actor.username,
                cleared_at=ctx.now,
                instance_id=ctx.instance.id,
            )
        )
    ctx.instance.data = {
        **ctx.instance.data,
        "name_review": {"outcome": "cleared", "by": ctx.actor.username, "reason": ctx.comment},
    }
    ctx.audit["cleared_matches"] = len(matches)


@registry.effect("start_onboarding_due_diligence")
def start_onboarding_due_diligence(ctx: FireContext) -> None:
    """Open the due-diligence case whose outcome fires back on this one (linked both ways)."""
    child = engine.start(
        ctx.session,
        "due_diligence",
        Actor.system("onboarding"),
        subject_type="client",
        subject_id=ctx.instance.subject_id,
        parent_id=ctx.instance.id,
        data={
            "client_id": ctx.instance.subject_id,
            "client_type": _client(ctx).client_type,  # chooses the checklist
            "reason": "onboarding",
        },
    )
    ctx.instance.data = {**ctx.instance.data, "due_diligence_id": child.id}
    ctx.audit["due_diligence_id"] = child.id


@registry.effect("activate_client")
def activate_client(ctx: FireContext) -> None:
    """Admit the client: active, credit limit from the screening's formula, periodic review."""
    client = _client(ctx)
    limit = (ctx.instance.data.get("screening") or {}).get("credit_limit", 0)
    apply_changes(
        ctx.session,
        client,
        {**_status(client, "active"), "credit_limit": Decimal(str(limit))},
        ctx.actor,
        "client.admitted",
        instance_id=ctx.instance.id,
    )
    ctx.audit["credit_limit"] = limit
    timer = schedule_periodic_review(ctx.session, client)
    due = getattr(timer, "due_at", None)
    ctx.instance.data = {
        **ctx.instance.data,
        "periodic_review_due": due.isoformat() + "Z" if due else None,
    }


@registry.task("begin_screening")
def begin_screening(ctx: TaskContext) -> None:
    """Move a submitted case into screening (a no-op if it left ``submitted``)."""
    if ctx.instance is None or ctx.instance.state != "submitted":
        return
    engine.fire(ctx.session, ctx.instance.id, "screen", SCREENING_ACTOR)


@registry.task("screen_client")
def screen_client(ctx: TaskContext) -> None:
    """Ask the data providers, rate the client and route the case by rating.

    A provider that is down raises ``ServiceUnavailable``: the runner retries and then
    opens an incident; the case stays in ``screening``, neither approved nor rejected.
    """
    if ctx.instance is None or ctx.instance.state != "screening":
        return
    settings = ctx.settings
    client = get_client(ctx.session, int(ctx.instance.subject_id or 0))
    outcome = screen(
        ctx.session,
        client,
        configured_providers(settings),
        active_rule_set(ctx.session),
        ctx.now,
        extra=[event_facts(ctx.session, client.id, ctx.now)],
    )
    engine.fire(
        ctx.session,
        ctx.instance.id,
        "screened",
        SCREENING_ACTOR,
        outcome.payload(),
        comment=texts.say(
            "comment.rated", rating=outcome.result.rating, decided_by=outcome.result.decided_by
        ),
    )


@registry.data_view(DEFINITION)
def onboarding_view(session: Session, instance: WorkflowInstance, actor: Actor) -> dict[str, Any]:
    """Sales see the outcome of screening but not the risk report behind it."""
    data = with_client_name(session, dict(instance.data or {}))
    if can_see_sensitive(actor.roles) or actor.is_system:
        return data
    report = data.get("screening")
    if isinstance(report, dict):
        data["screening"] = {"rating": report.get("rating"), "risk_level": report.get("risk_level")}
    data.pop("possible_matches", None)
    return data
