"""Client services: the one door through which the API, the console, imports and
workflows create, edit and read client records.

Every write is recorded in the client's audit stream (``client:<id>``) with a
field diff whose personal and banking values are masked; every unmasked read of
sensitive data by a person is recorded too.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from datetime import date, datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.errors import (
    Conflict,
    Duplicate,
    Forbidden,
    Message,
    ValidationFailed,
    VersionConflict,
)
from workflow.platform import clock
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, User, WorkflowInstance
from workflow.risk.alerts.handover import hand_over_alerts
from workflow.risk.clients.masking import mask_client, mask_diff, unmasked_sensitive_fields
from workflow.risk.clients.model import (
    CHANGEABLE_FIELDS,
    NATURAL_PERSON,
    SCREENING_FIELDS,
    SENSITIVE_FIELDS,
    Client,
    client_stream,
    get_client,
)
from workflow.risk.clients.queries import visible_client
from workflow.risk.clients.sealing import erased_refusal, open_diff, seal_diff
from workflow.risk.clients.validation import (
    check_identity,
    validate_client_fields,
    validate_sensitive_change,
)
from workflow.risk.privacy.reads import record_read

log = logging.getLogger(__name__)

# Who may write client records at all; sales only their own clients.
EDITOR_ROLES = frozenset({"sales", "risk_officer", "manager"})
# Set by screening or a change request, never typed in when creating a client.
# Before admission, a screening input the screening lacked may still be filled in.
FILLABLE_STATUSES = frozenset({"prospect", "pending_admission"})
# A client's credit code may be corrected only before it was screened for admission (or
# after a rejection, before it is submitted again and screened anew).
CODE_EDITABLE_STATUSES = frozenset({"prospect", "rejected"})
# What identifies a client to the watch lists and providers: fixed once it was screened.
IDENTITY_FIELDS = ("client_type", "credit_code", "id_number")
CONSENT_FIELDS = ("consent_basis", "consent_at")
SYSTEM_SET_ON_CREATE = ("credit_limit", "rating", "risk_level", "blacklisted")
RECORD_FIELDS = (
    "id",
    "client_type",
    "name",
    "credit_code",
    "legal_representative",
    "id_number",
    "consent_basis",
    "consent_at",
    "industry",
    "region",
    "registered_capital",
    "established_on",
    "ownership_type",
    "state_ownership_pct",
    "contacts",
    "bank_account",
    "credit_limit",
    "rating",
    "risk_score",
    "risk_level",
    "status",
    "owner",
    "blacklisted",
    "tags",
    "contracts",
    "facts",
    "screening",
    "version",
    "created_by",
    "created_at",
    "updated_at",
    "erased_at",
)


def plain(value: Any) -> Any:
    """A JSON-able copy of a column value (money as float, dates as ISO text)."""
    if isinstance(value, Decimal):
        return float(value)
    if isinstance(value, datetime):
        return clock.isoformat(value)
    if isinstance(value, date):
        return value.isoformat()
    if isinstance(value, list):
        return [plain(v) for v in value]
    if isinstance(value, dict):
        return {k: plain(v) for k, v in value.items()}
    return value


def client_record(client: Client) -> dict[str, Any]:
    """Every field of ``client`` as plain JSON values, unmasked (never send this as is)."""
    return {name: plain(getattr(client, name)) for name in RECORD_FIELDS}


def sensitive_values(client: Client) -> dict[str, Any]:
    """The current values of what a change request may change (:data:`CHANGEABLE_FIELDS`),
    as plain JSON (for before/after checks)."""
    return {name: plain(getattr(client, name)) for name in CHANGEABLE_FIELDS}


def require_editor(client: Client | None, actor: Actor, what: str) -> None:
    """Raises:
    Forbidden: the actor may not write clients, or (sales) not this one."""
    if actor.is_system:
        return
    if not actor.has_any(EDITOR_ROLES):
        raise Forbidden(
            f"{what} needs one of the roles {', '.join(sorted(EDITOR_ROLES))}",
            rule="role",
            code="role.required",
            params={"roles": sorted(EDITOR_ROLES)},
        )
    if (
        client is not None
        and not actor.has_any(EDITOR_ROLES - {"sales"})
        and client.owner != actor.username
    ):
        raise Forbidden(
            f"client {client.id} is owned by another sales user; only its owner, "
            "a risk officer or a manager may edit it",
            rule="owner",
            code="client.owner",
            params={"client_id": client.id},
        )


def authorize_create(actor: Actor) -> None:
    """Raises:
    Forbidden: the actor may not create clients."""
    require_editor(None, actor, "creating a client")


def editable_client(
    session: Session, client_id: int, actor: Actor, *, lock: bool = False
) -> Client:
    """The client ``actor`` may edit (its fields not yet read: roles before bodies).

    Raises:
        Forbidden: a role that may not edit clients (whether the client exists or not).
        NotFound: no such client, or (sales) one owned by someone else.
    """
    require_editor(None, actor, "editing a client")
    return visible_client(session, client_id, actor, lock=lock)


def hand_over_cases(session: Session, client_id: int, before: str, after: str) -> list[int]:
    """The client's open cases follow it to its new owner: wherever the previous owner is
    among a case's assignees (an alert loop's owners), the new owner takes the place.
    Returns the ids of the cases handed over."""
    moved = []
    for case in session.execute(
        select(WorkflowInstance).where(
            WorkflowInstance.subject_type == "client",
            WorkflowInstance.subject_id == client_id,
            WorkflowInstance.is_open.is_(True),
        )
    ).scalars():
        if before in (case.assignees or []):
            case.assignees = sorted({after if u == before else u for u in case.assignees})
            moved.append(case.id)
    hand_over_alerts(session, client_id, before, after)
    return sorted(moved)


def _check_owner(session: Session, owner: str) -> None:
    user = session.execute(select(User).where(User.username == owner)).scalar_one_or_none()
    if user is None or not user.active or "sales" not in (user.roles or []):
        raise ValidationFailed(
            f"owner {owner!r} is not an active sales user",
            errors={
                "owner": [Message("client.owner_sales", "Name an active user with the sales role.")]
            },
        )


def _check_unique_code(session: Session, code: str, client_id: int | None) -> None:
    other = session.execute(
        select(Client.id).where(Client.credit_code == code)
    ).scalar_one_or_none()
    if other is not None and other != client_id:
        raise Duplicate(
            f"a client with credit code {code} already exists (client {other}); "
            "open that record instead of creating a second one",
            existing_id=other,
            code="client.duplicate_credit_code",
            params={"credit_code": code, "client_id": other},
        )


def find_person(session: Session, id_number: str) -> Client | None:
    """The natural person with ``id_number``. Identity numbers are stored encrypted
    (randomised), so the natural persons' numbers alone are read and compared after
    decryption (sealed with each record's own data key, so the records are loaded). No
    keyed-hash index is kept: it would outlive the erasure of a person."""
    persons = session.scalars(
        select(Client).where(Client.client_type == NATURAL_PERSON, Client.erased_at.is_(None))
    )
    return next((person for person in persons if person.id_number == id_number), None)


def _check_unique_person(session: Session, id_number: str, client_id: int | None) -> None:
    """A natural person is in the archive once."""
    found = find_person(session, id_number)
    if found is not None and found.id != client_id:
        raise Duplicate(
            f"a natural person with this identity number already exists (client {found.id}); "
            "open that record instead of creating a second one",
            existing_id=found.id,
            code="client.duplicate_id_number",
            params={"client_id": found.id},
        )


def check_unique_identity(session: Session, values: dict[str, Any], client_id: int | None) -> None:
    """Raises:
    Duplicate: another client has the credit code, or (a natural person) the identity number."""
    if values.get("client_type") == NATURAL_PERSON:
        if values.get("id_number"):
            _check_unique_person(session, values["id_number"], client_id)
    elif values.get("credit_code"):
        _check_unique_code(session, values["credit_code"], client_id)


def apply_changes(
    session: Session,
    client: Client,
    values: dict[str, Any],
    actor: Actor,
    kind: str,
    **payload: Any,
) -> dict[str, Any]:
    """Write cleaned ``values`` to ``client`` and audit the (masked) diff; returns the diff.

    Nothing is recorded when no value changes.
    """
    diff: dict[str, Any] = {}
    for name, value in values.items():
        before, after = plain(getattr(client, name)), plain(value)
        if before != after:
            diff[name] = {"before": before, "after": after}
            setattr(client, name, value)
    if not diff:
        return diff
    client.version += 1
    client.updated_at = clock.now()
    session.flush()
    audit.record_event(
        session,
        client_stream(client.id),
        kind,
        actor,
        subject=client_stream(client.id),
        payload={"diff": seal_diff(client, mask_diff(diff)), **payload},
    )
    return diff


def check_new_client(
    session: Session, data: dict[str, Any], actor: Actor
) -> tuple[dict[str, Any], str]:
    """The cleaned fields and the owner of the client :func:`create_client` would create from
    ``data``; nothing is written (a dry-run import checks its rows with this).

    Raises:
        Forbidden, ValidationFailed, Duplicate: as :func:`create_client`.
    """
    require_editor(None, actor, "creating a client")
    cleaned = validate_client_fields(data, partial=False)
    preset = [f for f in SYSTEM_SET_ON_CREATE if cleaned.get(f) not in (None, False)]
    if preset:
        raise ValidationFailed(
            "rating, risk level, credit limit and blacklist are set by screening; leave them out "
            "(after admission, change them with a change request)",
            errors={
                f: [Message("client.preset", "Set by screening, not on creation.")] for f in preset
            },
        )
    owner = cleaned.pop("owner", None)
    if "sales" in actor.roles and not actor.has_any(EDITOR_ROLES - {"sales"}):
        if owner not in (None, actor.username):
            raise Forbidden(
                "sales users create clients they own; leave owner out",
                rule="owner",
                code="client.owner_self",
            )
        owner = actor.username
    if owner is None:
        raise ValidationFailed(
            "name the sales user who owns this client",
            errors={"owner": ["Missing data for required field."]},
        )
    _check_owner(session, owner)
    check_unique_identity(session, cleaned, None)
    return cleaned, owner


def create_client(session: Session, data: dict[str, Any], actor: Actor) -> Client:
    """Create a client (status ``prospect``); sales own what they create.

    Raises:
        Forbidden: the actor may not create clients.
        ValidationFailed: invalid fields (per field), or a field screening sets.
        Duplicate: the credit code is already in the archive.
    """
    cleaned, owner = check_new_client(session, data, actor)
    now = clock.now()
    client = Client(
        status="prospect",
        owner=owner,
        created_by=actor.username,
        version=1,
        created_at=now,
        updated_at=now,
        tags=[],
        contracts=[],
        facts={},
        blacklisted=False,
    )
    for name, value in cleaned.items():
        setattr(client, name, value)
    session.add(client)
    session.flush()
    diff = {
        name: {"before": None, "after": plain(value)}
        for name, value in cleaned.items()
        if value not in (None, [], {})
    }
    diff["owner"] = {"before": None, "after": owner}
    audit.record_event(
        session,
        client_stream(client.id),
        "client.created",
        actor,
        subject=client_stream(client.id),
        payload={"diff": seal_diff(client, mask_diff(diff))},
    )
    log.info("client %s created by %s", client.id, actor.username)
    return client


def _change_request_only(client_id: int, fields: list[str], why: str, code: str) -> Conflict:
    """The refusal of a PATCH of ``fields``, pointing to the change request that may."""
    return Conflict(
        f"{', '.join(fields)} {why} POST /api/v1/clients/{client_id}/change-requests with "
        '{"changes": {...}, "reason": "..."}',
        fields=fields,
        change_request_url=f"/api/v1/clients/{client_id}/change-requests",
        code=code,
        params={"fields": fields},
    )


def update_client(
    session: Session,
    client_id: int,
    changes: dict[str, Any],
    actor: Actor,
    expected_version: int | None = None,
) -> Client:
    """Edit non-sensitive fields of a client.

    Raises:
        Forbidden: a role that may not edit (checked first).
        NotFound: no such client, or (sales) someone else's client.
        Conflict: a sensitive field (file a change request), or ``expected_version`` is stale.
        ValidationFailed: invalid values (per field).
        Duplicate: the new credit code belongs to another client.
    """
    client = editable_client(session, client_id, actor, lock=True)
    if client.erased_at is not None:
        raise erased_refusal(client.id)
    sensitive = sorted(set(changes) & set(SENSITIVE_FIELDS))
    if sensitive:
        raise _change_request_only(
            client_id,
            sensitive,
            "can only be changed with a dual approval: file a change request at",
            "client.sensitive_fields",
        )
    if expected_version is not None and client.version != expected_version:
        raise VersionConflict(
            f"client {client_id} is at version {client.version}, not "
            f"{expected_version}: someone edited it first; reload and retry",
            current_version=client.version,
            code="client.version_conflict",
        )
    cleaned = validate_client_fields(changes, partial=True)
    screened = sorted(
        f
        for f in set(cleaned) & set(SCREENING_FIELDS)
        if plain(cleaned[f]) != plain(getattr(client, f))
        # answering a return for information: a value the screening lacked may be filled
        # in before admission (the next submission screens it); a screened one stays
        and not (client.status in FILLABLE_STATUSES and getattr(client, f) in (None, "", {}))
    )
    if screened and client.screening is not None and not actor.is_system:
        # a form sending the values the client has is no change and passes
        raise _change_request_only(
            client_id,
            screened,
            "were screened already: they change only through risk events or with a dual "
            "approval, a change request at",
            "client.screening_fields",
        )
    if "owner" in cleaned:
        if not actor.has_any(frozenset({"manager"})) and not actor.is_system:
            raise Forbidden(
                "only a manager may hand a client to another sales user",
                rule="owner",
                code="client.owner_manager",
            )
        _check_owner(session, cleaned["owner"])
    handed_over: dict[str, Any] = {}
    if cleaned.get("owner", client.owner) != client.owner:
        handed_over["handed_over"] = hand_over_cases(
            session, client.id, client.owner, cleaned["owner"]
        )
    identity = [f for f in IDENTITY_FIELDS if f in cleaned and cleaned[f] != getattr(client, f)]
    if identity and client.status not in CODE_EDITABLE_STATUSES:
        raise Conflict(
            f"the {', '.join(identity)} of a {client.status} client is the identity "
            "that was screened against the watch lists and providers; it can be corrected "
            "only before admission (prospect) or after a rejection. If it is wrong, "
            "offboard this client and create it anew with the right identity",
            fields=identity,
            client_status=client.status,
            code="client.credit_code_fixed",
            params={"status": client.status},
        )
    if set(cleaned) & {*IDENTITY_FIELDS, *CONSENT_FIELDS}:
        merged = {f: getattr(client, f) for f in (*IDENTITY_FIELDS, *CONSENT_FIELDS)}
        merged.update(cleaned)
        check_identity(merged)
        if identity:
            check_unique_identity(session, merged, client.id)
    apply_changes(session, client, cleaned, actor, "client.updated", **handed_over)
    return client


def set_sensitive_fields(
    session: Session,
    client: Client,
    values: dict[str, Any],
    actor: Actor,
    *,
    reason: str,
    approvers: list[str],
) -> dict[str, Any]:
    """Write approved changes to sensitive fields (after a dual approval); returns the diff.

    Raises:
        ValidationFailed: a field is not sensitive or a value is invalid.
    """
    cleaned = {name: validate_sensitive_change(name, value) for name, value in values.items()}
    return apply_changes(
        session,
        client,
        cleaned,
        actor,
        "client.sensitive_changed",
        reason=reason,
        approvers=list(approvers),
    )


SUSPENDED = "suspended"


def suspend_client(
    session: Session, client: Client, actor: Actor, *, at: datetime, instance_id: int, **reason: Any
) -> bool:
    """Suspend ``client`` (locked here), remembering its former status so that it can be
    reinstated; the client's audit stream records why (``reason``). False when it is
    already suspended (another black alert, a blacklisting, or by hand): its former status
    is kept as it was."""
    client = get_client(session, client.id, lock=True)
    if client.status == SUSPENDED:
        return False
    before = client.status
    client.status_before_suspension = before
    client.status = SUSPENDED
    client.version += 1
    client.updated_at = at
    audit.record_event(
        session,
        client_stream(client.id),
        "client.suspended",
        actor,
        subject=client_stream(client.id),
        instance_id=instance_id,
        payload={"status": [before, SUSPENDED], **reason},
    )
    log.info("client %s suspended (case %s)", client.id, instance_id)
    return True


def _shown(session: Session, client: Client, actor: Actor) -> tuple[dict[str, Any], list[str]]:
    """The client as ``actor`` may see it and the sensitive fields shown unmasked.

    A read of sensitive data by a role that sees everything is recorded in the client's
    audit stream too; the owner's reads of the contacts they collected are only in the
    access log (:mod:`workflow.risk.privacy.reads`), which the caller writes.
    """
    record = client_record(client)
    owner = client.owner == actor.username
    view = mask_client(record, actor.roles, owner=owner)
    audited = unmasked_sensitive_fields(record, actor.roles)
    if audited and not actor.is_system:
        audit.record_event(
            session,
            client_stream(client.id),
            "client.sensitive_read",
            actor,
            subject=client_stream(client.id),
            payload={"fields": audited},
        )
    return view, audited or unmasked_sensitive_fields(record, actor.roles, owner=owner)


def client_view(
    session: Session, client: Client, actor: Actor, *, view: str = "detail"
) -> dict[str, Any]:
    """The client as ``actor`` may see it; the read is logged (the caller commits)."""
    shown, read = _shown(session, client, actor)
    record_read(session, actor, view, [client.id], {client.id: read})
    return shown


def client_views(
    session: Session, clients: list[Client], actor: Actor, *, view: str = "list"
) -> list[dict[str, Any]]:
    """Several clients as ``actor`` may see them, logged as one read naming them all."""
    shown: list[dict[str, Any]] = []
    unmasked: dict[int, list[str]] = {}
    for client in clients:
        item, unmasked[client.id] = _shown(session, client, actor)
        shown.append(item)
    record_read(session, actor, view, [c.id for c in clients], unmasked)
    return shown


@dataclass(frozen=True)
class HistoryEntry:
    """One audit record of a client as its history shows it: the personal values of its
    diff opened with the record's key (None once the client is erased)."""

    id: int
    seq: int
    at: datetime
    actor: str
    kind: str
    payload: dict[str, Any]


def client_history(session: Session, client_id: int, limit: int | None = 100) -> list[HistoryEntry]:
    """The client's own audit records (creation, edits, reads), oldest first (``limit``
    None: all of them)."""
    client = session.get(Client, client_id)
    key = client.data_key if client is not None else None
    records = session.execute(
        select(AuditRecord)
        .where(AuditRecord.stream == client_stream(client_id))
        .order_by(AuditRecord.seq)
        .limit(limit)
    ).scalars()
    return [
        HistoryEntry(
            r.id,
            r.seq,
            r.at,
            r.actor,
            r.kind,
            # a copy: an audit record is never changed, not even in memory
            {
                **(r.payload or {}),
                **(
                    {"diff": open_diff(key, r.payload["diff"])}
                    if r.payload and "diff" in r.payload
                    else {}
                ),
            },
        )
        for r in records
    ]
