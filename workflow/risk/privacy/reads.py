"""The access log of the client archive: every read of client records by a person.

One row per request (a list read names all the ids it showed), so logging costs one
insert: who, when, through which door (``api``/``console``) and view (``list``,
``detail``, ``report``, ``personal_data``, …), which records, which sensitive fields
were shown unmasked, and from which address. Auditors and managers search it.
The audit trail keeps its own record of unmasked reads of sensitive data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflow.errors import Forbidden
from workflow.platform import clock, correlation
from workflow.platform.db import Base, BigId, JsonType
from workflow.records.identity import Actor

READ_AUDITORS = frozenset({"auditor", "manager"})
VIEWS = ("list", "detail", "edit", "report", "personal_data")


class ClientRead(Base):
    """One read of one or more client records by a person."""

    __tablename__ = "client_reads"
    __table_args__ = (
        Index("ix_client_reads_at", "at"),
        Index("ix_client_reads_username", "username", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    at: Mapped[datetime] = mapped_column(DateTime)
    username: Mapped[str] = mapped_column(String(64))
    channel: Mapped[str | None] = mapped_column(String(16))
    view: Mapped[str] = mapped_column(String(24))
    client_ids: Mapped[list[int]] = mapped_column(JsonType)
    # ",3,17," — the ids searchable with LIKE on every database.
    client_keys: Mapped[str] = mapped_column(Text)
    fields: Mapped[dict[str, list[str]]] = mapped_column(JsonType)
    source: Mapped[str | None] = mapped_column(String(64))
    request_id: Mapped[str | None] = mapped_column(String(64))


def record_read(
    session: Session,
    actor: Actor,
    view: str,
    client_ids: Sequence[int],
    unmasked: dict[int, list[str]] | None = None,
) -> ClientRead | None:
    """Log that ``actor`` read ``client_ids`` (``unmasked``: the sensitive fields shown
    in full, per client). The system's own reads are not logged; nor is an empty list."""
    if actor.is_system or not client_ids:
        return None
    origin = correlation.current_origin()
    ids = list(dict.fromkeys(client_ids))
    row = ClientRead(
        at=clock.now(),
        username=actor.username,
        channel=origin.channel,
        view=view,
        client_ids=ids,
        client_keys="," + ",".join(str(i) for i in ids) + ",",
        fields={str(cid): names for cid, names in (unmasked or {}).items() if names},
        source=(origin.address or None) and str(origin.address)[:64],
        request_id=origin.request_id,
    )
    session.add(row)
    return row


def require_read_auditor(actor: Actor) -> None:
    """Raises:
    Forbidden: the actor is neither an auditor nor a manager."""
    if not (actor.is_system or actor.has_any(READ_AUDITORS)):
        names = sorted(READ_AUDITORS)
        raise Forbidden(
            f"searching the reads of client records needs one of the roles {', '.join(names)}",
            rule="role",
            code="role.required",
            params={"roles": names},
        )


@dataclass(frozen=True)
class ReadFilter:
    username: str | None = None
    client_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None


def read_view(row: ClientRead) -> dict[str, Any]:
    return {
        "id": row.id,
        "at": clock.isoformat(row.at),
        "username": row.username,
        "channel": row.channel,
        "view": row.view,
        "client_ids": list(row.client_ids),
        "fields": dict(row.fields or {}),
        "source": row.source,
        "request_id": row.request_id,
    }


def search_reads(
    session: Session, where: ReadFilter, *, limit: int, before_id: int | None = None
) -> tuple[list[ClientRead], int | None]:
    """Reads matching ``where``, newest first; returns the page and the next cursor."""
    stmt = select(ClientRead).order_by(ClientRead.id.desc())
    if where.username:
        stmt = stmt.where(ClientRead.username == where.username)
    if where.client_id is not None:
        stmt = stmt.where(ClientRead.client_keys.contains(f",{where.client_id},"))
    if where.since is not None:
        stmt = stmt.where(ClientRead.at >= where.since)
    if where.until is not None:
        stmt = stmt.where(ClientRead.at < where.until)
    if before_id is not None:
        stmt = stmt.where(ClientRead.id < before_id)
    rows = list(session.execute(stmt.limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def reads_of_client(session: Session, client_id: int, limit: int = 1000) -> list[ClientRead]:
    rows, _ = search_reads(session, ReadFilter(client_id=client_id), limit=limit)
    return rows
