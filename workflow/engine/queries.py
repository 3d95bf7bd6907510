"""Reading instances and their histories: the instance list and a case's timeline.

The API and the console present what these return; which rows a caller sees is
decided here, once (``visibility``), and a case's audit stream is named by the
audit trail's own ``instance_stream``.
"""

from __future__ import annotations

from dataclasses import dataclass

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine import visibility
from workflow.engine.catalog import Catalog
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance
from workflow.records.trail import instance_stream

# How many rows the list looks at per page it fills (visibility is checked per row).
SCAN_FACTOR = 5


@dataclass(frozen=True)
class InstancePage:
    items: list[WorkflowInstance]
    next_cursor: int | None  # pass as ``before`` for the next page


def visible_instances(
    session: Session,
    actor: Actor,
    catalog: Catalog,
    *,
    limit: int,
    definition: str | None = None,
    state: str | None = None,
    subject_id: int | None = None,
    is_open: bool | None = None,
    before: int | None = None,
) -> InstancePage:
    """Instances ``actor`` may see, newest first, at most ``limit`` of them, looking at a
    bounded window of ``limit × SCAN_FACTOR`` rows so that a page fills (a short page
    with a cursor means the window held fewer visible ones)."""
    stmt = select(WorkflowInstance).order_by(WorkflowInstance.id.desc())
    if definition is not None:
        stmt = stmt.where(WorkflowInstance.definition == definition)
    if state is not None:
        stmt = stmt.where(WorkflowInstance.state == state)
    if subject_id is not None:
        stmt = stmt.where(WorkflowInstance.subject_id == subject_id)
    if is_open is not None:
        stmt = stmt.where(WorkflowInstance.is_open.is_(is_open))
    if before is not None:
        stmt = stmt.where(WorkflowInstance.id < before)
    items: list[WorkflowInstance] = []
    last_id = None
    for instance in session.execute(stmt.limit(limit * SCAN_FACTOR)).scalars():
        last_id = instance.id
        if visibility.can_view(session, instance, actor, catalog):
            items.append(instance)
            if len(items) == limit:
                break
    more = (
        last_id is not None
        and session.execute(stmt.where(WorkflowInstance.id < last_id).limit(1)).first() is not None
    )
    return InstancePage(items, last_id if more else None)


def timeline(
    session: Session, instance_id: int, *, after: int = 0, limit: int | None = None
) -> list[AuditRecord]:
    """The instance's audit records in order, from record ``after + 1``, at most ``limit``."""
    stmt = (
        select(AuditRecord)
        .where(AuditRecord.stream == instance_stream(instance_id), AuditRecord.seq > after)
        .order_by(AuditRecord.seq)
    )
    if limit is not None:
        stmt = stmt.limit(limit)
    return list(session.execute(stmt).scalars())
