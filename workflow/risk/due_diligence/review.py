"""Due-diligence review (尽职调查): opening cases, the checklist, four eyes, the parent link.

The checklist items are data: ``settings.checklist`` of ``definitions/due_diligence.yaml``
(key → label). ``submit_for_review`` must carry every item as
``{"finding": text, "risk": low|medium|high, "evidence": [sha256, …]}``; the one who
submits is the analyst, and neither they nor any earlier submitter may decide the
review. A case started by onboarding (``parent_id``) reports its outcome to the parent
inside the same transaction.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import texts
from workflow.engine import firing as engine
from workflow.engine.builtins.guards import actors_of
from workflow.engine.context import FireContext
from workflow.engine.registry import Registry
from workflow.errors import Duplicate, Forbidden, Message, ValidationFailed
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.clients.model import Client, get_client
from workflow.risk.clients.queries import with_client_name
from workflow.risk.due_diligence.evidence import Evidence
from workflow.risk.governance.overlay import governed_settings
from workflow.risk.policy import POLICY

registry = Registry()


log = logging.getLogger(__name__)

DEFINITION = "due_diligence"
OPENER_ROLES = frozenset({"risk_officer", "manager"})
DEFAULT_GRADES = ("low", "medium", "high")
ITEM_KEYS = {"finding", "risk", "evidence"}
# Parent triggers (defined by the onboarding workflow) for each final outcome.
PARENT_TRIGGERS = {
    "passed": "due_diligence_passed",
    "passed_with_conditions": "due_diligence_passed",
    "failed": "due_diligence_failed",
}


def open_case_for(session: Session, client_id: int) -> WorkflowInstance | None:
    """The client's due-diligence case still open, if any."""
    return session.execute(
        select(WorkflowInstance)
        .where(
            WorkflowInstance.definition == DEFINITION,
            WorkflowInstance.subject_type == "client",
            WorkflowInstance.subject_id == client_id,
            WorkflowInstance.is_open.is_(True),
        )
        .order_by(WorkflowInstance.id)
        .limit(1)
    ).scalar_one_or_none()


def reviewable_client(session: Session, client_id: int, actor: Actor) -> Client:
    """The client ``actor`` may open a review of (before anything else is read).

    Raises:
        Forbidden: ``actor`` is neither a risk officer, a manager nor the system.
        NotFound: no such client.
    """
    if not (actor.is_system or actor.has_any(OPENER_ROLES)):
        raise Forbidden(
            "opening a due-diligence review needs one of the roles manager, risk_officer",
            rule="role",
            code="role.required",
            params={"roles": sorted(OPENER_ROLES)},
        )
    return get_client(session, client_id)


def open_review(
    session: Session,
    client_id: int,
    actor: Actor,
    *,
    reason: str = "ad_hoc",
    parent_id: int | None = None,
    assignees: list[str] | None = None,
    comment: str | None = None,
    request_id: str | None = None,
    extra: dict[str, Any] | None = None,
) -> WorkflowInstance:
    """Open a due-diligence case on a client (ad hoc, periodic, or for onboarding).

    Raises:
        Forbidden: ``actor`` is neither a risk officer, a manager nor the system.
        NotFound: no such client.
        Duplicate: a review of this client is already open (except for onboarding's own).
    """
    client = reviewable_client(session, client_id, actor)
    if parent_id is None:
        running = open_case_for(session, client_id)
        if running is not None:
            raise Duplicate(
                f"client {client_id} already has an open due-diligence review "
                f"(case #{running.id}); continue that one",
                instance_id=running.id,
                code="due_diligence.open",
                params={"client_id": client_id, "case_id": running.id},
            )
    # the name by reference (with_client_name): the trail keeps no copy an erasure cannot reach
    data = {
        "client_id": client.id,
        "client_type": client.client_type,
        "reason": reason,
        **(extra or {}),
    }
    return engine.start(
        session,
        DEFINITION,
        actor,
        subject_type="client",
        subject_id=client.id,
        data=data,
        parent_id=parent_id,
        assignees=assignees,
        comment=comment,
        request_id=request_id,
    )


def _settings(ctx: FireContext) -> dict[str, Any]:
    """The definition's settings with the active ``dd_checklist`` version on top."""
    return governed_settings(ctx.session, "dd_checklist", ctx.definition.settings)


def checklist_for(settings: Mapping[str, Any], data: Mapping[str, Any] | None) -> dict[str, Any]:
    """The checklist of a case: the one ``settings.checklists`` names for the client's type
    (kept in the case's data when it opened), else ``settings.checklist``."""
    by_type = settings.get("checklists") or {}
    client_type = (data or {}).get("client_type")
    items = by_type.get(client_type) if client_type else None
    return dict(items or settings.get("checklist") or {})


def checklist_items(ctx: FireContext) -> dict[str, Any]:
    return checklist_for(_settings(ctx), ctx.instance.data)


@registry.effect("validate_checklist")
def validate_checklist(ctx: FireContext) -> None:
    """Refuse (422) a checklist missing a declared item, or with an invalid one; keep it."""
    items = checklist_items(ctx)
    grades = tuple(_settings(ctx).get("risk_grades") or DEFAULT_GRADES)
    checklist = ctx.payload.get("checklist")
    if not isinstance(checklist, dict):
        raise ValidationFailed(
            "the checklist must be an object with one entry per item",
            errors={"checklist": [Message("checklist.object", "Send an object keyed by item.")]},
            missing=sorted(items),
        )
    errors: dict[str, list[str]] = {}
    missing = [key for key in items if key not in checklist]
    for key in missing:
        errors[key] = [
            Message("checklist.item_missing", "Missing item: give a finding and a risk grade.")
        ]
    for key in sorted(set(checklist) - set(items)):
        errors[key] = [
            Message(
                "checklist.item_unknown",
                f"Unknown item; the checklist has: {', '.join(items)}.",
                items=list(items),
            )
        ]
    uploaded = _uploaded(ctx)
    for key in items:
        entry = checklist.get(key)
        if key in missing:
            continue
        problems = _item_problems(entry, grades, uploaded)
        if problems:
            errors[key] = problems
    if errors:
        detail = (
            f"the checklist is missing {', '.join(missing)}"
            if missing
            else "some checklist items are invalid"
        )
        raise ValidationFailed(
            detail + "; see errors", errors={"checklist": errors}, missing=missing
        )
    kept = {
        key: {
            "finding": checklist[key]["finding"].strip(),
            "risk": checklist[key]["risk"],
            "evidence": list(checklist[key].get("evidence") or []),
        }
        for key in items
    }
    ctx.instance.data = {
        **ctx.instance.data,
        "checklist": kept,
        "overall_risk": max((kept[k]["risk"] for k in kept), key=grades.index, default=None),
    }


def _uploaded(ctx: FireContext) -> set[str]:
    return set(
        ctx.session.execute(
            select(Evidence.sha256).where(Evidence.instance_id == ctx.instance.id)
        ).scalars()
    )


def _item_problems(entry: Any, grades: tuple[str, ...], uploaded: set[str]) -> list[str]:
    if not isinstance(entry, dict):
        return [
            Message(
                "checklist.item_shape",
                'Give {"finding": text, "risk": grade, "evidence": [sha256, …]}.',
            )
        ]
    problems: list[str] = [
        Message("checklist.unknown_field", f"Unknown field {k!r}.", field=k)
        for k in sorted(set(entry) - ITEM_KEYS)
    ]
    finding = entry.get("finding")
    if not isinstance(finding, str) or not finding.strip():
        problems.append(Message("checklist.finding_required", "A finding (text) is required."))
    elif len(finding) > 8000:
        problems.append(
            Message(
                "checklist.finding_too_long",
                "The finding is longer than 8000 characters.",
                max=8000,
            )
        )
    if entry.get("risk") not in grades:
        problems.append(
            Message(
                "checklist.risk_grade",
                f"The risk must be one of {', '.join(grades)}.",
                grades=list(grades),
            )
        )
    evidence = entry.get("evidence") or []
    if not isinstance(evidence, list) or not all(isinstance(e, str) for e in evidence):
        problems.append(
            Message(
                "checklist.evidence_shape",
                "Evidence must be a list of SHA-256 hashes of uploaded files.",
            )
        )
    else:
        unknown = [e for e in evidence if e not in uploaded]
        if unknown:
            problems.append(
                Message(
                    "checklist.evidence_unknown",
                    f"Evidence not uploaded to this case: {', '.join(unknown)}; upload it "
                    "first (POST /api/v1/workflows/{id}/evidence).",
                    hashes=unknown,
                )
            )
    return problems


@registry.guard("not_analyst")
def not_analyst(ctx: FireContext) -> str | None:
    """Four eyes: whoever submitted the checklist for review (now or before a send-back)
    may not decide the review."""
    analysts = actors_of(ctx, ["submit_for_review"])
    if ctx.instance.data.get("analyst"):
        analysts.add(ctx.instance.data["analyst"])
    if ctx.actor.username in analysts:
        return Message(
            "sod.analyst",
            "segregation of duties: you submitted this review as the analyst and may "
            "not decide it; another risk officer or a manager must",
        )
    return None


@registry.effect("record_decision")
def record_decision(ctx: FireContext) -> None:
    """Keep the reviewer's decision (outcome, conditions, reasons) on the case."""
    conditions = [c.strip() for c in ctx.payload.get("conditions") or []]
    if ctx.transition.trigger == "pass_with_conditions" and not any(conditions):
        raise ValidationFailed(
            "passing with conditions needs at least one condition",
            errors={
                "conditions": [
                    Message("decision.conditions_required", "List at least one condition.")
                ]
            },
        )
    decision: dict[str, Any] = {
        "outcome": ctx.transition.dest,
        "by": ctx.actor.username,
        "at": ctx.now.isoformat() + "Z",
        "conditions": [c for c in conditions if c],
    }
    if ctx.transition.dest == "failed":
        decision["reasons"] = _reasons(ctx)
    if ctx.comment:
        decision["comment"] = ctx.comment
    ctx.instance.data = {**ctx.instance.data, "decision": decision}


def _reasons(ctx: FireContext) -> list[str]:
    reasons = [r.strip() for r in ctx.payload.get("reasons") or [] if r and r.strip()]
    return reasons or [ctx.comment or "due diligence failed"]


@registry.effect("report_to_parent")
def report_to_parent(ctx: FireContext) -> None:
    """Fire the outcome on the onboarding case that started this one (same transaction)."""
    parent_id = ctx.instance.parent_id
    if parent_id is None:
        return
    dest = ctx.transition.dest
    decision = ctx.instance.data.get("decision") or {}
    if dest == "failed":
        payload: dict[str, Any] = {"reasons": decision.get("reasons") or _reasons(ctx)}
    else:
        payload = {"conditions": list(decision.get("conditions") or [])}
    engine.fire(
        ctx.session,
        parent_id,
        PARENT_TRIGGERS[dest],
        Actor.system(DEFINITION),
        payload,
        comment=texts.say("comment.due_diligence_outcome", case=ctx.instance.id, outcome=dest),
        request_id=ctx.request_id,
    )
    ctx.audit["parent"] = {"instance_id": parent_id, "trigger": PARENT_TRIGGERS[dest]}


@registry.data_view(DEFINITION)
def due_diligence_view(
    session: Session, instance: WorkflowInstance, actor: Actor
) -> dict[str, Any]:
    """Sales (the client's owner) sees the outcome, never the findings or evidence."""
    data = with_client_name(session, dict(instance.data or {}))
    if POLICY.sees_everything(actor):
        return data
    hidden = ("checklist", "evidence", "overall_risk")
    decision = data.get("decision")
    view = {k: v for k, v in data.items() if k not in hidden}
    if isinstance(decision, dict):
        view["decision"] = {
            k: decision[k] for k in ("outcome", "at", "conditions") if k in decision
        }
    return view
