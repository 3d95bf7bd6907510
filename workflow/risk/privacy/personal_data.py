"""The data-subject export (PIPL art. 45): everything held about a client as one JSON
document — the record, its contracts and screening, risk events, tags and ratings,
alerts, cases with their data, evidence metadata (not the files), the client's audit
records and every logged read of it. Legal and managers ask for it; the export is itself
logged as a read (``personal_data``) with every sensitive field it shows.
"""

from __future__ import annotations

from dataclasses import asdict
from typing import Any

from sqlalchemy import inspect, or_, select
from sqlalchemy.orm import Session

from workflow.errors import Forbidden
from workflow.platform import clock
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.alerts.model import Alert
from workflow.risk.clients.masking import unmasked_sensitive_fields
from workflow.risk.clients.model import Client, client_stream
from workflow.risk.clients.queries import read_client
from workflow.risk.clients.service import client_history, client_record, plain
from workflow.risk.due_diligence.evidence import Evidence
from workflow.risk.events.model import ClientTag, RatingRecord, RiskEvent
from workflow.risk.privacy.reads import ClientRead, read_view, record_read

EXPORT_ROLES = frozenset({"legal", "manager"})


def authorize_export(session: Session, client_id: int, actor: Actor) -> Client:
    """The client whose personal data ``actor`` may export.

    Raises:
        Forbidden: neither legal nor a manager (checked first, whether the client exists).
        NotFound: no such client.
    """
    if not actor.has_any(EXPORT_ROLES):
        names = sorted(EXPORT_ROLES)
        raise Forbidden(
            f"exporting a person's data needs one of the roles {', '.join(names)}",
            rule="role",
            code="role.required",
            params={"roles": names},
        )
    return read_client(session, client_id, actor)


def _row(row: Any, *, leave_out: tuple[str, ...] = ()) -> dict[str, Any]:
    """Every column of a mapped row as plain JSON values."""
    return {
        attr.key: plain(getattr(row, attr.key))
        for attr in inspect(row).mapper.column_attrs
        if attr.key not in leave_out
    }


def _all(session: Session, stmt: Any) -> list[Any]:
    return list(session.execute(stmt).scalars())


def personal_data(session: Session, client: Client, actor: Actor) -> dict[str, Any]:
    """Everything held about ``client``, unmasked, and the export logged (caller commits)."""
    record = client_record(client)
    alerts = _all(session, select(Alert).where(Alert.client_id == client.id).order_by(Alert.id))
    alert_cases = [a.instance_id for a in alerts if a.instance_id is not None]
    cases = _all(
        session,
        select(WorkflowInstance)
        .where(
            or_(
                (WorkflowInstance.subject_type == "client")
                & (WorkflowInstance.subject_id == client.id),
                WorkflowInstance.id.in_(alert_cases),
            )
        )
        .order_by(WorkflowInstance.id),
    )
    case_ids = [c.id for c in cases]
    reads = _all(
        session,
        select(ClientRead)
        .where(ClientRead.client_keys.contains(f",{client.id},"))
        .order_by(ClientRead.id),
    )
    document = {
        "client_id": client.id,
        # PIPL: an erased person's export says that it was erased, and when
        "erased": client.erased_at is not None,
        "erased_at": plain(client.erased_at),
        "generated_at": clock.isoformat(clock.now()),
        "generated_by": actor.username,
        "record": record,
        "consent": {"basis": client.consent_basis, "at": plain(client.consent_at)},
        "contracts": record["contracts"],
        "screening": record["screening"],
        "events": [
            _row(e)
            for e in _all(
                session,
                select(RiskEvent).where(RiskEvent.client_id == client.id).order_by(RiskEvent.id),
            )
        ],
        "tags": [
            _row(t)
            for t in _all(
                session,
                select(ClientTag).where(ClientTag.client_id == client.id).order_by(ClientTag.id),
            )
        ],
        "ratings": [
            _row(r)
            for r in _all(
                session,
                select(RatingRecord)
                .where(RatingRecord.client_id == client.id)
                .order_by(RatingRecord.id),
            )
        ],
        "alerts": [_row(a) for a in alerts],
        "cases": [_row(c) for c in cases],
        "evidence": [
            _row(f)
            for f in _all(
                session,
                select(Evidence).where(Evidence.instance_id.in_(case_ids)).order_by(Evidence.id),
            )
        ],
        # the history opens the personal values sealed in each diff with the record's key
        "audit": [
            {key: plain(value) for key, value in asdict(entry).items()}
            for entry in client_history(session, client.id, limit=None)
        ],
        "reads": [read_view(r) for r in reads],
    }
    shown = unmasked_sensitive_fields(record, actor.roles)
    audit.record_event(
        session,
        client_stream(client.id),
        "client.personal_data_exported",
        actor,
        subject=client_stream(client.id),
        payload={"fields": shown},
    )
    record_read(session, actor, "personal_data", [client.id], {client.id: shown})
    return document
