"""Searching the audit trail (auditors only), newest-last with a stable id cursor."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import or_, select
from sqlalchemy.orm import Session

from workflow.errors import BadQuery, Forbidden
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord
from workflow.records.trail import instance_stream

AUDIT_ROLES = frozenset({"auditor"})


def require_auditor(actor: Actor, what: str) -> None:
    """Raises:
    Forbidden: the actor is not an auditor (system actors: the CLI and jobs, may)."""
    if not (actor.is_system or actor.has_any(AUDIT_ROLES)):
        raise Forbidden(
            f"{what} is for auditors only; ask an administrator for the auditor role", rule="role"
        )


@dataclass(frozen=True)
class AuditFilter:
    stream: str | None = None
    instance_id: int | None = None
    client_id: int | None = None
    actor: str | None = None
    trigger: str | None = None
    kind: str | None = None
    since: datetime | None = None
    until: datetime | None = None

    def conditions(self) -> list[Any]:
        """SQL conditions, all of which a record must meet (an inverted range matches nothing)."""
        found: list[Any] = []
        if self.stream is not None:
            found.append(AuditRecord.stream == self.stream)
        if self.instance_id is not None:
            found.append(AuditRecord.stream == instance_stream(self.instance_id))
        if self.client_id is not None:
            subject = f"client:{self.client_id}"
            found.append(or_(AuditRecord.stream == subject, AuditRecord.subject == subject))
        for name in ("actor", "trigger", "kind"):
            value = getattr(self, name)
            if value is not None:
                found.append(getattr(AuditRecord, name) == value)
        if self.since is not None:
            found.append(AuditRecord.at >= self.since)
        if self.until is not None:
            found.append(AuditRecord.at < self.until)
        return found


def parse_cursor(cursor: str | None) -> int:
    """Raises:
    BadQuery: the cursor is not one this API gave out."""
    if cursor is None:
        return 0
    if not cursor.isdigit():
        raise BadQuery(
            "the cursor is malformed",
            errors={"cursor": ["Use next_cursor from the previous page."]},
        )
    return int(cursor)


def search(
    session: Session,
    actor: Actor,
    where: AuditFilter,
    *,
    limit: int = 50,
    cursor: str | None = None,
    newest_first: bool = False,
) -> tuple[list[AuditRecord], str | None]:
    """One page of matching records in insertion order (or newest first, as a person reads
    them) and the cursor of the next page.

    Raises:
        Forbidden: the actor is not an auditor.
        BadQuery: a malformed cursor.
    """
    require_auditor(actor, "searching the audit trail")
    position = parse_cursor(cursor)
    if newest_first:
        page = select(AuditRecord).where(*where.conditions()).order_by(AuditRecord.id.desc())
        if position:
            page = page.where(AuditRecord.id < position)
    else:
        page = select(AuditRecord).where(AuditRecord.id > position, *where.conditions())
        page = page.order_by(AuditRecord.id)
    rows = list(session.execute(page.limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (str(rows[-1].id) if more and rows else None)
