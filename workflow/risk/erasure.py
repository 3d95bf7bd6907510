"""Erasure of a client's personal data (PIPL) by crypto-shredding, and the retention policy.

``request_erasure`` files an ``erasure`` case (legal or a manager; the retention job
files them as ``system:erasure_retention``); a manager who is not the requester
approves it, and ``erase_client`` runs inside that firing's transaction: the record's
data key is destroyed, so the personal fields and every sealed copy of them (audit
diffs, change requests; see ``clients/sealing.py``) can no longer be read, in the
database and in any backup made afterwards. The audit trail keeps only tokens and
references, so ``riskloop audit verify`` still passes. The record itself stays (its
cases, ratings and audit stream refer to it), named by a placeholder, with
``erased_at`` set. Evidence files of the client's cases are deleted from the evidence
store (unless another client's case holds the same file); the audit trail keeps their
hashes, and evidence verification knows those files were erased.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import texts
from workflow.engine import firing as engine
from workflow.engine import runtime
from workflow.engine.context import FireContext, TaskContext
from workflow.engine.registry import Registry
from workflow.errors import (
    ConfigurationError,
    Conflict,
    Duplicate,
    Forbidden,
    Message,
    ValidationFailed,
)
from workflow.platform import clock, envelope
from workflow.records import outbox
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import Notification, WorkflowInstance
from workflow.risk.clients.model import Client, client_stream, get_client
from workflow.risk.clients.queries import visible_client
from workflow.risk.clients.sealing import PERSONAL_FIELDS, erased_refusal
from workflow.risk.due_diligence.evidence import shred_client_files

registry = Registry()

log = logging.getLogger(__name__)

DEFINITION = "erasure"
RETENTION_JOB = "erasure_retention"
SHRED_TASK = "shred_evidence"
RETENTION_CRON = "40 2 * * *"
RETENTION_SETTING = "RISKLOOP_RETENTION_YEARS"
DEFAULT_RETENTION_YEARS = 5


def placeholder_name(client_id: int) -> str:
    """What an erased client is called from then on (a data value, the same in every language)."""
    return f"已删除的个人信息 #{client_id}"


def retention_years(settings: Mapping[str, Any]) -> int:
    """Years after offboarding before an erasure is proposed (``RISKLOOP_RETENTION_YEARS``).

    Raises:
        ConfigurationError: not a whole number from 1 to 100.
    """
    value = str(settings.get(RETENTION_SETTING) or DEFAULT_RETENTION_YEARS).strip()
    if not value.isdigit() or not 1 <= int(value) <= 100:
        raise ConfigurationError(
            f"{RETENTION_SETTING}={value!r} is not a number of years; write a whole number "
            f"from 1 to 100, e.g. {RETENTION_SETTING}=5"
        )
    return int(value)


def open_cases(
    session: Session, client_id: int, *, definition: str | None = None
) -> list[WorkflowInstance]:
    """The client's open cases: of ``definition``, or (None) of every other definition
    than ``erasure``."""
    stmt = select(WorkflowInstance).where(
        WorkflowInstance.subject_type == "client",
        WorkflowInstance.subject_id == client_id,
        WorkflowInstance.is_open.is_(True),
    )
    if definition is None:
        stmt = stmt.where(WorkflowInstance.definition != DEFINITION)
    else:
        stmt = stmt.where(WorkflowInstance.definition == definition)
    return list(session.execute(stmt.order_by(WorkflowInstance.id)).scalars())


def _refuse_open_case(client: Client, cases: list[WorkflowInstance]) -> Conflict:
    first = cases[0]
    return Conflict(
        f"client {client.id} still has an open case (#{first.id}, {first.definition}); its "
        "personal data can be erased once every case on it has ended",
        case_id=first.id,
        code="erasure.open_case",
        params={"case_id": first.id, "definition": first.definition},
    )


def erasable_client(
    session: Session, client_id: int, actor: Actor, *, lock: bool = False
) -> Client:
    """The client ``actor`` may request the erasure of (before the body is read).

    Raises:
        Forbidden: a role that may not request an erasure (whether the client exists or not).
        NotFound: no such client.
    """
    definition = runtime.of(session).catalog.get(DEFINITION)
    requesters = frozenset(definition.settings.get("requester_roles") or ())
    if not actor.is_system and not actor.has_any(requesters):
        raise Forbidden(
            f"requesting an erasure needs one of the roles {', '.join(sorted(requesters))}",
            rule="role",
            code="role.required",
            params={"roles": sorted(requesters)},
        )
    if actor.is_system:
        return get_client(session, client_id, lock=lock)
    return visible_client(session, client_id, actor, lock=lock)


def request_erasure(
    session: Session,
    client_id: int,
    reason: str,
    actor: Actor,
    *,
    request_id: str | None = None,
    comment: str | None = None,
) -> WorkflowInstance:
    """File an erasure request for ``client_id`` (the caller commits).

    Raises:
        Forbidden: a role that may not request (checked first).
        NotFound: no such client.
        ValidationFailed: no reason.
        Conflict: the client is already erased, or has another open case.
        Duplicate: an erasure request for the client is already open.
    """
    # The row lock serialises requests on one client (the duplicate check below).
    client = erasable_client(session, client_id, actor, lock=True)
    if not (reason or "").strip():
        raise ValidationFailed(
            "say why the personal data is to be erased (the legal basis)",
            errors={"reason": [Message("field.reason_required", "A reason is required.")]},
        )
    if client.erased_at is not None:
        raise erased_refusal(client.id)
    pending = open_cases(session, client.id, definition=DEFINITION)
    if pending:
        raise Duplicate(
            f"erasure request {pending[0].id} for client {client.id} is still open; wait for "
            "its decision",
            existing_id=pending[0].id,
            code="erasure.open_request",
            params={"case_id": pending[0].id},
        )
    others = open_cases(session, client.id)
    if others:
        raise _refuse_open_case(client, others)
    instance = engine.start(
        session,
        DEFINITION,
        actor,
        subject_type="client",
        subject_id=client.id,
        data={"client_id": client.id, "reason": reason.strip()},
        comment=comment or reason.strip(),
        request_id=request_id,
    )
    log.info("erasure request %s filed on client %s", instance.id, client.id)
    return instance


@registry.effect("erase_client")
def erase_client(ctx: FireContext) -> None:
    """Destroy the client's data key and blank its personal columns (refused while another
    case on the client is open: the approval fails with 409 until it ends)."""
    client = get_client(ctx.session, ctx.instance.data["client_id"], lock=True)
    if client.erased_at is not None:
        raise erased_refusal(client.id)
    others = open_cases(ctx.session, client.id)
    if others:
        raise _refuse_open_case(client, others)
    key = client.data_key
    now = clock.now()
    for field in PERSONAL_FIELDS:
        setattr(client, f"sealed_{field}", None)
    client.data_key = None
    client.name = placeholder_name(client.id)
    _scrub_case_names(ctx.session, client.id)
    _scrub_notifications(ctx.session, client.id)
    client.erased_at = now
    client.version += 1
    client.updated_at = now
    if key is not None:
        envelope.forget(key)
    ctx.session.flush()
    fact = {
        "case": ctx.instance.id,
        "requested_by": ctx.instance.created_by,
        "approved_by": ctx.actor.username,
        "erased_at": clock.isoformat(now),
        "fields": [*PERSONAL_FIELDS, "name"],
    }
    audit.record_event(
        ctx.session,
        client_stream(client.id),
        "client.erased",
        ctx.actor,
        subject=client_stream(client.id),
        instance_id=ctx.instance.id,
        payload=fact,
    )
    # the evidence files go once this is committed (a rolled-back approval keeps them)
    outbox.enqueue(ctx.session, SHRED_TASK, {"client_id": client.id}, instance_id=ctx.instance.id)
    ctx.instance.data = {**ctx.instance.data, "erased_at": fact["erased_at"]}
    ctx.audit.update({"client_id": client.id, "erased_at": fact["erased_at"]})
    log.info("client %s erased by case %s", client.id, ctx.instance.id)


def _scrub_case_names(session: Session, client_id: int) -> None:
    # Cases opened before names were kept by reference hold a copy in their data.
    for case in session.execute(
        select(WorkflowInstance).where(
            WorkflowInstance.subject_type == "client", WorkflowInstance.subject_id == client_id
        )
    ).scalars():
        if (case.data or {}).get("client_name"):
            case.data = {**case.data, "client_name": placeholder_name(client_id)}


def _scrub_notifications(session: Session, client_id: int) -> None:
    # In-app notifications about the client's cases name it in their params and wording.
    cases = select(WorkflowInstance.id).where(
        WorkflowInstance.subject_type == "client", WorkflowInstance.subject_id == client_id
    )
    for note in session.execute(
        select(Notification).where(Notification.instance_id.in_(cases))
    ).scalars():
        params = note.params or {}
        if "client" not in params:
            continue
        note.params = {**params, "client": placeholder_name(client_id)}
        if note.code:
            worded = texts.notification(note.code, **note.params)
            note.title = worded["title"]
            note.body = worded.get("body", "")


@registry.task(SHRED_TASK)
def shred_files(ctx: TaskContext) -> None:
    """Delete the evidence files of an erased client's cases (safe to run twice)."""
    client = ctx.session.get(Client, int(ctx.args["client_id"]))
    if client is None or client.erased_at is None:
        return
    deleted = shred_client_files(ctx.session, client.id)
    log.info("erasure of client %s: %d evidence file(s) deleted", client.id, deleted)


def _years_before(moment: datetime, years: int) -> datetime:
    try:
        return moment.replace(year=moment.year - years)
    except ValueError:  # 29 February
        return moment.replace(year=moment.year - years, day=28)


def propose_erasures(session: Session, now: datetime) -> list[WorkflowInstance]:
    """Erasure requests (by ``system:erasure_retention``) for every offboarded client past
    the retention period that is not erased and has no open case."""
    years = retention_years(runtime.of(session).settings)
    cutoff = _years_before(now, years)
    due = session.execute(
        select(Client.id)
        .where(
            Client.status == "offboarded",
            Client.erased_at.is_(None),
            Client.offboarded_at.is_not(None),
            Client.offboarded_at <= cutoff,
        )
        .order_by(Client.id)
    ).scalars()
    actor = Actor.system(RETENTION_JOB)
    proposed = []
    for client_id in list(due):
        if open_cases(session, client_id, definition=DEFINITION) or open_cases(session, client_id):
            continue
        client = session.get(Client, client_id)
        assert client is not None and client.offboarded_at is not None
        proposed.append(
            request_erasure(
                session,
                client_id,
                f"retention period of {years} years after offboarding has passed",
                actor,
                comment=texts.say(
                    "comment.retention_due",
                    years=years,
                    date=f"{client.offboarded_at:%Y-%m-%d}",
                ),
            )
        )
    if proposed:
        log.info("retention: %d erasure request(s) proposed", len(proposed))
    return proposed


@registry.job(RETENTION_JOB, RETENTION_CRON)
def retention(session: Session, now: datetime, args: dict[str, Any] | None = None) -> None:
    """The daily retention scan (``RISKLOOP_RETENTION_YEARS`` after offboarding)."""
    propose_erasures(session, now)
