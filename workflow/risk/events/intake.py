"""Risk event intake (风险事件): the one door for the API, the signed webhook batches and the
data providers.

An event is stored once per ``(source, external_id)``: a repeat answers with the event
already stored. Storing one writes, in the same transaction, the outbox row that runs it
through the monitoring rules after commit (``workflow.risk.events.processor``); the
periodic sweep catches rows written by any other code.
"""

from __future__ import annotations

import logging
import uuid
from dataclasses import dataclass
from typing import Any

from marshmallow import RAISE, ValidationError, fields, validate
from sqlalchemy import select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.errors import Forbidden, Message, NotFound, ValidationFailed
from workflow.field_messages import Schema
from workflow.platform import clock
from workflow.platform.hygiene import FreeText, Text, UtcDateTime
from workflow.records.identity import Actor
from workflow.records.outbox import enqueue
from workflow.risk.clients.creditcode import normalize_credit_code
from workflow.risk.clients.model import Client, get_client
from workflow.risk.clients.queries import visible_client
from workflow.risk.clients.sealing import erased_refusal
from workflow.risk.events.model import EVENT_TYPES, RiskEvent
from workflow.risk.policy import POLICY

log = logging.getLogger(__name__)

# Who may record an event by hand (the webhook and providers record as system actors).
RECORDERS = frozenset({"risk_officer", "manager", "legal", "system"})
# Who may read a client's events: the roles that see everything on a client.
READERS = POLICY.see_all
MAX_BATCH = 1000
MONITOR_TASK = "monitor_events"
_CHUNK = 100


class EventFields(Schema):
    """A risk event as it is sent: ``{type, title, details, keywords, occurred_at, source,
    external_id, data}``."""

    class Meta:
        unknown = RAISE

    type = fields.String(required=True, validate=validate.OneOf(EVENT_TYPES))
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    details = FreeText(load_default="", validate=validate.Length(max=10000))
    keywords = fields.List(
        Text(validate=validate.Length(min=1, max=64)),
        load_default=list,
        validate=validate.Length(max=50),
    )
    occurred_at = UtcDateTime(load_default=None)
    source = Text(load_default="api", validate=validate.Length(min=1, max=64))
    external_id = Text(load_default=None, validate=validate.Length(min=1, max=128))
    data = fields.Dict(
        keys=Text(validate=validate.Length(min=1, max=64)),
        load_default=dict,
        metadata={"description": "Structured extras: amount, court, case number, list name…"},
    )


class BatchEventFields(EventFields):
    """One event of a signed batch: its client by id or credit code; source and external
    id required (they deduplicate redeliveries)."""

    client_id = fields.Integer(strict=True, validate=validate.Range(min=1, max=2**63 - 1))
    credit_code = Text(validate=validate.Length(min=1, max=32))
    source = Text(required=True, validate=validate.Length(min=1, max=64))
    external_id = Text(required=True, validate=validate.Length(min=1, max=128))


_FIELDS = EventFields()
_BATCH_FIELDS = BatchEventFields()


@dataclass(frozen=True)
class Recorded:
    event: RiskEvent
    created: bool


def _require(actor: Actor, roles: frozenset[str], what: str) -> None:
    if not actor.has_any(roles):
        raise Forbidden(
            f"{what} needs one of the roles {', '.join(sorted(roles - {'system'}))}",
            rule="role",
            code="role.required",
            params={"roles": sorted(roles - {"system"})},
        )


def recordable_client(session: Session, actor: Actor, client_id: int) -> Client:
    """The client ``actor`` may record an event on (roles first, then the record).

    Raises:
        Forbidden: a role that may not record events.
        NotFound: no such client.
        Conflict: the client was erased (PIPL).
    """
    _require(actor, RECORDERS, "recording a risk event")
    return visible_client(session, client_id, actor)


def readable_client(session: Session, actor: Actor, client_id: int) -> Client:
    """Raises:
    Forbidden: a role that may not read risk events (sales: the risk picture is not theirs).
    NotFound: no such client."""
    _require(actor, READERS, "reading a client's risk events")
    return visible_client(session, client_id, actor)


def find_event(session: Session, source: str, external_id: str) -> RiskEvent | None:
    return session.execute(
        select(RiskEvent).where(RiskEvent.source == source, RiskEvent.external_id == external_id)
    ).scalar_one_or_none()


def clean_event(data: Any, *, batch: bool = False) -> dict[str, Any]:
    """The event's fields, cleaned.

    Raises:
        ValidationFailed: per field (``errors``).
    """
    if not isinstance(data, dict):
        raise ValidationFailed(
            "an event must be a JSON object",
            errors={"_body": [Message("event.object", "Send an object of event fields.")]},
        )
    try:
        return (_BATCH_FIELDS if batch else _FIELDS).load(data)
    except ValidationError as exc:
        errors = exc.normalized_messages()
        raise ValidationFailed(
            "some event fields are invalid: " + ", ".join(sorted(map(str, errors))),
            errors=errors,
        ) from exc


def record_event(
    session: Session, actor: Actor, client_id: int, fields: dict[str, Any]
) -> Recorded:
    """Store a cleaned event of ``client_id`` and have it monitored after commit; a repeat of
    its ``(source, external_id)`` returns the event stored first.

    Raises:
        Forbidden: a role that may not record events.
        NotFound: no such client.
    """
    _require(actor, RECORDERS, "recording a risk event")
    source = fields.get("source") or "api"
    external_id = fields.get("external_id") or uuid.uuid4().hex
    existing = find_event(session, source, external_id)
    if existing is not None:
        return Recorded(existing, created=False)
    client = get_client(session, client_id)
    if client.erased_at is not None:
        raise erased_refusal(client.id)
    now = clock.now()
    event = RiskEvent(
        client_id=client.id,
        type=fields["type"],
        title=fields["title"],
        details=fields.get("details") or "",
        keywords=list(fields.get("keywords") or []),
        data=dict(fields.get("data") or {}),
        source=source,
        external_id=external_id,
        occurred_at=fields.get("occurred_at") or now,
        received_at=now,
        recorded_by=actor.username,
    )  # outcome left out: NULL (not JSON null) until the monitoring rules ran
    session.add(event)
    session.flush()  # a concurrent intake of the same event fails here on the unique key
    monitor_later(session, [event.id])
    log.info("risk event %s (%s) recorded on client %s", event.id, event.type, client.id)
    return Recorded(event, created=True)


def monitor_later(session: Session, event_ids: list[int]) -> None:
    """Have the monitoring rules run on ``event_ids`` once the transaction commits. Code
    that inserts ``risk_events`` rows by other means calls this too, to have them handled
    within seconds rather than at the next sweep."""
    for start in range(0, len(event_ids), _CHUNK):
        enqueue(session, MONITOR_TASK, {"event_ids": list(event_ids[start : start + _CHUNK])})


def _batch_client(session: Session, fields: dict[str, Any]) -> Client:
    """Raises:
    NotFound: no client with that id or credit code (or the two name different clients)."""
    client: Client | None = None
    if fields.get("client_id") is not None:
        client = session.get(Client, fields["client_id"])
    code = fields.get("credit_code")
    if code:
        by_code = session.execute(
            select(Client).where(Client.credit_code == normalize_credit_code(code))
        ).scalar_one_or_none()
        if client is not None and by_code is not client:
            raise NotFound("client_id and credit_code name different clients")
        client = by_code
    if client is None:
        raise NotFound("no such client")
    return client


def record_batch(session: Session, actor: Actor, items: list[Any]) -> list[dict[str, Any]]:
    """Store each event of a signed batch on its own: ``created``, ``duplicate`` or
    ``refused`` (with ``errors``), in the order sent. A refused event stores nothing and
    does not stop the others.

    Raises:
        ValidationFailed: not a list, or more than :data:`MAX_BATCH` events.
    """
    if not isinstance(items, list) or not 1 <= len(items) <= MAX_BATCH:
        raise ValidationFailed(
            f"send 1 to {MAX_BATCH} events in one batch",
            errors={"events": [Message("event.batch_size", f"1 to {MAX_BATCH} events.")]},
        )
    results: list[dict[str, Any]] = []
    for index, item in enumerate(items):
        try:
            fields = clean_event(item, batch=True)
            if fields.get("client_id") is None and not fields.get("credit_code"):
                raise ValidationFailed(
                    "name the client",
                    errors={
                        "client_id": [
                            Message("event.client_required", "Give client_id or credit_code.")
                        ]
                    },
                )
            client = _batch_client(session, fields)
            with session.begin_nested():
                recorded = record_event(session, actor, client.id, fields)
        except ValidationFailed as exc:
            results.append(
                {"index": index, "status": "refused", "errors": exc.extra.get("errors") or {}}
            )
            continue
        except NotFound as exc:
            results.append(
                {
                    "index": index,
                    "status": "refused",
                    "errors": {
                        "client_id": [
                            Message("event.client_unknown", f"Unknown client: {exc.detail}.")
                        ]
                    },
                }
            )
            continue
        except IntegrityError:
            # the same event arrived concurrently: the other delivery stored it
            existing = find_event(session, fields["source"], fields["external_id"])
            if existing is None:
                raise
            recorded = Recorded(existing, created=False)
        results.append(
            {
                "index": index,
                "status": "created" if recorded.created else "duplicate",
                "event_id": recorded.event.id,
                "client_id": recorded.event.client_id,
            }
        )
    return results


def list_events(
    session: Session,
    client_id: int,
    *,
    type: str | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> tuple[list[RiskEvent], bool]:
    """The client's events, newest first; returns (page, more)."""
    stmt = select(RiskEvent).where(RiskEvent.client_id == client_id)
    if type:
        stmt = stmt.where(RiskEvent.type == type)
    if before_id is not None:
        stmt = stmt.where(RiskEvent.id < before_id)
    rows = list(session.execute(stmt.order_by(RiskEvent.id.desc()).limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit
