"""Dual approval of sensitive client edits (敏感信息修改双人审批).

``request_sensitive_edit`` files a change request (an instance of the
``sensitive_edit`` definition) recording each field's current value as "before";
the second approval runs ``apply_sensitive_edit`` inside the firing's transaction,
which writes the new values only if every "before" still holds (else the case ends
as ``conflict`` and nothing changes). Values of encrypted columns (the bank account)
are kept encrypted in the case data too, since case data and its audit records are
stored in the clear.
"""

from __future__ import annotations

import json
import logging
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine import firing as engine
from workflow.engine import runtime, visibility
from workflow.engine.context import FireContext
from workflow.engine.registry import Registry
from workflow.errors import Duplicate, Forbidden, Message, ValidationFailed
from workflow.platform import clock
from workflow.platform.crypto import MASTER_KEY_TYPES, FieldCipher, session_cipher
from workflow.platform.envelope import DataKey
from workflow.records import timers
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import Timer, WorkflowInstance
from workflow.risk.alerts.client_suspension import open_black_loops
from workflow.risk.clients.masking import can_see_sensitive, mask_client, mask_diff
from workflow.risk.clients.model import CHANGEABLE_FIELDS, Client, client_stream, get_client
from workflow.risk.clients.queries import visible_client
from workflow.risk.clients.sealing import (
    PERSONAL_FIELDS,
    erased_refusal,
    open_copy,
    seal_copy,
    seal_diff,
)
from workflow.risk.clients.service import (
    SUSPENDED,
    plain,
    sensitive_values,
    set_sensitive_fields,
    suspend_client,
)
from workflow.risk.clients.validation import ClientFieldsSchema, validate_sensitive_change
from workflow.risk.events.rerating import after_change_request

registry = Registry()

log = logging.getLogger(__name__)

DEFINITION = "sensitive_edit"
_CLIENT_FIELDS = frozenset(ClientFieldsSchema().fields)


def is_encrypted(field: str) -> bool:
    """True when the client model stores ``field`` encrypted (or sealed with its data key)."""
    return field in PERSONAL_FIELDS or isinstance(Client.__table__.c[field].type, MASTER_KEY_TYPES)


def _seal(cipher: FieldCipher, client: Client, field: str, value: Any) -> Any:
    # Personal values are sealed with the record's key, so an erasure shreds them here too.
    if value is None or not is_encrypted(field):
        return value
    if field in PERSONAL_FIELDS:
        return seal_copy(client, value)
    return {"encrypted": cipher.encrypt(json.dumps(value))}


def _unseal(cipher: FieldCipher, key: DataKey | None, value: Any) -> Any:
    if isinstance(value, dict) and set(value) == {"encrypted"}:
        return json.loads(cipher.decrypt(value["encrypted"]))
    return open_copy(key, value)


def _clean_changes(client: Client, changes: Any) -> dict[str, Any]:
    """The requested values, cleaned as the client archive cleans them.

    Raises:
        ValidationFailed: no changes, a field that is unknown or not sensitive, an
            invalid value or one the client already has (``errors`` per field).
    """
    if not isinstance(changes, dict) or not changes:
        raise ValidationFailed(
            "a change request needs at least one field in changes, e.g. "
            '{"changes": {"credit_limit": 500000}, "reason": "..."}',
            errors={
                "changes": [
                    Message(
                        "change.fields",
                        f"Name one or more of {', '.join(CHANGEABLE_FIELDS)}.",
                        fields=list(CHANGEABLE_FIELDS),
                    )
                ]
            },
        )
    current = sensitive_values(client)
    cleaned: dict[str, Any] = {}
    errors: dict[str, Any] = {}
    for field, value in changes.items():
        if field not in CHANGEABLE_FIELDS:
            errors[field] = (
                [
                    Message(
                        "change.not_sensitive",
                        "Not a sensitive field: change it with PATCH /api/v1/clients/{id}.",
                    )
                ]
                if field in _CLIENT_FIELDS
                else [Message("field.unknown", "Unknown field.")]
            )
            continue
        try:
            new = plain(validate_sensitive_change(field, value))
        except ValidationFailed as exc:
            errors.update(exc.extra.get("errors") or {field: [exc.detail]})
            continue
        if new == current[field]:
            errors[field] = [Message("change.same_value", "The client already has this value.")]
            continue
        cleaned[field] = new
    if errors:
        raise ValidationFailed(
            "some requested changes are invalid: " + ", ".join(sorted(errors)) + ". Only "
            f"{', '.join(CHANGEABLE_FIELDS)} go through a change request; edit other fields "
            "with PATCH /api/v1/clients/{id}",
            errors=errors,
        )
    return cleaned


def open_requests(session: Session, client_id: int) -> list[WorkflowInstance]:
    """The client's change requests still awaiting a decision."""
    return list(
        session.execute(
            select(WorkflowInstance)
            .where(
                WorkflowInstance.definition == DEFINITION,
                WorkflowInstance.subject_type == "client",
                WorkflowInstance.subject_id == client_id,
                WorkflowInstance.is_open.is_(True),
            )
            .order_by(WorkflowInstance.id)
        ).scalars()
    )


def changeable_client(
    session: Session, client_id: int, actor: Actor, *, lock: bool = False
) -> Client:
    """The client ``actor`` may file a change request on (before the request is read).

    Raises:
        Forbidden: a role that may not request (whether the client exists or not).
        NotFound: no such client, or (sales) one owned by someone else.
    """
    definition = runtime.of(session).catalog.get(DEFINITION)
    requesters = frozenset(definition.settings.get("requester_roles") or ())
    if not actor.has_any(requesters):
        raise Forbidden(
            f"filing a change request needs one of the roles {', '.join(sorted(requesters))}",
            rule="role",
            code="role.required",
            params={"roles": sorted(requesters)},
        )
    client = visible_client(session, client_id, actor, lock=lock)
    if actor.roles & requesters == {"sales"} and client.owner != actor.username:
        # one who sees every client (an auditor who also sells) still asks only for their own
        raise Forbidden(
            f"client {client.id} is owned by another sales user; only its owner, "
            "a risk officer, legal or a manager may request a change",
            rule="owner",
            code="client.owner",
            params={"client_id": client.id},
        )
    return client


def request_sensitive_edit(
    session: Session,
    client_id: int,
    changes: Any,
    reason: str,
    actor: Actor,
    *,
    request_id: str | None = None,
) -> WorkflowInstance:
    """File a change request for ``client_id``'s sensitive fields (the caller commits).

    Raises:
        Forbidden: a role that may not request (checked first).
        NotFound: no such client, or (sales) another owner's.
        ValidationFailed: empty, unknown, non-sensitive or invalid changes, or no reason.
        Duplicate: an open request already changes one of the same fields.
    """
    # The client row lock serialises requests on one client (the overlap check below).
    client = changeable_client(session, client_id, actor, lock=True)
    if client.erased_at is not None:
        raise erased_refusal(client.id)
    if not (reason or "").strip():
        raise ValidationFailed(
            "say why the change is needed",
            errors={"reason": [Message("field.reason_required", "A reason is required.")]},
        )
    cleaned = _clean_changes(client, changes)
    for other in open_requests(session, client.id):
        overlap = sorted(set(cleaned) & set((other.data or {}).get("changes", {})))
        if overlap:
            raise Duplicate(
                f"change request {other.id} on client {client.id} is still open for "
                f"{', '.join(overlap)}; wait for its decision or ask its requester to cancel it",
                existing_id=other.id,
                fields=overlap,
                code="change.open_request",
                params={"case_id": other.id, "fields": overlap},
            )
    before = sensitive_values(client)
    cipher = session_cipher(session)
    data = {
        "client_id": client.id,
        "reason": reason.strip(),
        "changes": {
            f: {"before": _seal(cipher, client, f, before[f]), "after": _seal(cipher, client, f, v)}
            for f, v in cleaned.items()
        },
        "approvals": [],
    }
    instance = engine.start(
        session,
        DEFINITION,
        actor,
        subject_type="client",
        subject_id=client.id,
        data=data,
        comment=reason.strip(),
        request_id=request_id,
    )
    log.info(
        "change request %s filed on client %s for %s",
        instance.id,
        client.id,
        ", ".join(sorted(cleaned)),
    )
    return instance


def planned_diff(session: Session, data: dict[str, Any]) -> dict[str, dict[str, Any]]:
    """The request's ``{field: {"before", "after"}}``, decrypted (never store or send as is;
    personal values of an erased client read None)."""
    cipher = session_cipher(session)
    client_id = data.get("client_id")
    client = session.get(Client, client_id) if client_id is not None else None
    key = client.data_key if client is not None else None
    return {
        f: {
            "before": _unseal(cipher, key, ch.get("before")),
            "after": _unseal(cipher, key, ch.get("after")),
        }
        for f, ch in (data.get("changes") or {}).items()
    }


@registry.effect("record_approval")
def record_approval(ctx: FireContext) -> None:
    """Add who approved, with the roles that allowed it, to ``data['approvals']``."""
    entry = {
        "by": ctx.actor.username,
        "roles": sorted(ctx.actor.roles & ctx.transition.roles),
        "at": clock.isoformat(ctx.now),
    }
    ctx.instance.data = {
        **ctx.instance.data,
        "approvals": [*ctx.instance.data.get("approvals", []), entry],
    }
    ctx.audit["approval"] = entry


@registry.effect("carry_timers")
def carry_timers(ctx: FireContext, triggers: list[str]) -> None:
    """Keep the deadlines of ``triggers`` armed in the state being left for the state
    being entered, at the same due time (a deadline of the whole case, not of a stage)."""
    dest = ctx.dest or ctx.transition.dest
    for trigger in triggers:
        latest = ctx.session.execute(
            select(Timer)
            .where(
                Timer.instance_id == ctx.instance.id,
                Timer.state == ctx.from_state,
                Timer.trigger == trigger,
                Timer.status != "cancelled",
            )
            .order_by(Timer.id.desc())
            .limit(1)
        ).scalar_one_or_none()
        if latest is not None:
            timers.schedule(ctx.session, ctx.instance, dest, trigger, latest.due_at)


@registry.effect("apply_sensitive_edit")
def apply_sensitive_edit(ctx: FireContext) -> None:
    """Write the approved values if every "before" still holds; otherwise send the case
    to ``conflict`` and change nothing."""
    data = ctx.instance.data
    client = get_client(ctx.session, data["client_id"], lock=True)
    diff = planned_diff(ctx.session, data)
    current = sensitive_values(client)
    stale = sorted(f for f, change in diff.items() if current[f] != change["before"])
    if stale:
        ctx.dest = "conflict"
        ctx.instance.data = {**data, "conflict_fields": stale}
        ctx.audit["conflict_fields"] = stale
        log.info(
            "change request %s not applied: %s changed since the request",
            ctx.instance.id,
            ", ".join(stale),
        )
        return
    approvals = data.get("approvals", [])
    approvers = [f"{a['by']} ({', '.join(a['roles'])})" for a in approvals]
    written = set_sensitive_fields(
        ctx.session,
        client,
        {f: c["after"] for f, c in diff.items()},
        ctx.actor,
        reason=data.get("reason", ""),
        approvers=approvers,
    )
    if diff.get("blacklisted", {}).get("after") is True and client.status == "active":
        _suspend_blacklisted(ctx, client)
    elif diff.get("blacklisted", {}).get("after") is False and client.status == SUSPENDED:
        _reinstate_cleared(ctx, client)
    ctx.audit.update(
        {
            "client_id": client.id,
            "diff": seal_diff(client, mask_diff(written)),
            "approvals": approvals,
        }
    )
    rated = after_change_request(ctx.session, client, set(written), ctx.instance, ctx.actor)
    if rated is not None:
        ctx.audit["rating_record"] = rated.id


def _suspend_blacklisted(ctx: FireContext, client: Client) -> None:
    if suspend_client(
        ctx.session,
        client,
        ctx.actor,
        at=ctx.now,
        instance_id=ctx.instance.id,
        reason="blacklisted",
        change_request=ctx.instance.id,
    ):
        ctx.audit["status"] = [client.status_before_suspension, SUSPENDED]


def _reinstate_cleared(ctx: FireContext, client: Client) -> None:
    """Lifting the blacklist gives a client suspended for it its former status back, unless
    a black alert loop still holds it (that loop's closing reinstates it then)."""
    before = client.status_before_suspension
    if before is None or open_black_loops(ctx.session, client.id, besides=0):
        return
    client.status = before
    client.status_before_suspension = None
    client.version += 1
    client.updated_at = ctx.now
    audit.record_event(
        ctx.session,
        client_stream(client.id),
        "client.reinstated",
        ctx.actor,
        subject=client_stream(client.id),
        instance_id=ctx.instance.id,
        payload={
            "status": [SUSPENDED, before],
            "reason": "blacklist lifted",
            "change_request": ctx.instance.id,
        },
    )
    ctx.audit["status"] = [SUSPENDED, before]


def visible_request(
    session: Session, client_id: int, instance_id: int, actor: Actor
) -> WorkflowInstance:
    """Raises:
    NotFound: no such change request on this client, or not visible to ``actor``."""
    instance = session.get(WorkflowInstance, instance_id)
    if instance is not None and (
        instance.definition != DEFINITION or instance.subject_id != client_id
    ):
        instance = None
    return visibility.require_view(
        session, instance, actor, runtime.of(session).catalog, instance_id
    )


def read_change_values(
    session: Session, client_id: int, instance_id: int, actor: Actor
) -> dict[str, Any]:
    """A change request's before/after for checking it against documents: in full for the
    roles that see everything on a client, each such read of an encrypted value recorded
    in the client's audit stream (the caller commits); masked as in the case view otherwise.

    Raises:
        NotFound: no such request on this client, or not visible to ``actor``.
    """
    instance = visible_request(session, client_id, instance_id, actor)
    if not can_see_sensitive(actor.roles) or actor.is_system:
        return sensitive_edit_view(session, instance, actor)["changes"]
    diff = planned_diff(session, instance.data or {})
    read = sorted(
        f for f, change in diff.items() if is_encrypted(f) and (change["before"] or change["after"])
    )
    if read:
        audit.record_event(
            session,
            client_stream(client_id),
            "client.sensitive_read",
            actor,
            subject=client_stream(client_id),
            instance_id=instance.id,
            payload={"fields": read, "change_request": instance.id},
        )
    return diff


def add_demo_change_request(session: Session) -> None:
    """Demo data: sales1 asks for a new bank account on their first client that has one
    (risk officers, legal and managers find it in their inbox)."""
    client = (
        session.execute(select(Client).where(Client.owner == "sales1").order_by(Client.id))
        .scalars()
        .first()
    )
    if client is None or not client.bank_account:
        return
    request_sensitive_edit(
        session,
        client.id,
        {"bank_account": "6228480099887766"},
        "demo: the client moved its settlement account (结算账户变更)",
        Actor("sales1", frozenset({"sales"})),
    )


@registry.data_view(DEFINITION)
def sensitive_edit_view(
    session: Session, instance: WorkflowInstance, actor: Actor
) -> dict[str, Any]:
    """The request's before/after as ``actor`` may see it: as the client record is masked
    for roles that do not see everything (sales: no credit limit, last 4 digits of a bank
    account); for the others as the audit diff is (bank account still last 4 digits only:
    an unmasked read must be audited, and a case view is not a recorded read)."""
    data = dict(instance.data or {})
    diff = planned_diff(session, data)
    if can_see_sensitive(actor.roles):
        diff = mask_diff(diff)
    else:
        before = mask_client({f: c["before"] for f, c in diff.items()}, actor.roles)
        after = mask_client({f: c["after"] for f, c in diff.items()}, actor.roles)
        diff = {f: {"before": before[f], "after": after[f]} for f in diff}
    data["changes"] = diff
    return data
