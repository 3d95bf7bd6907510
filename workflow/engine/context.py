"""What guards, effects and tasks are given: the firing's session, instance and actor."""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from typing import TYPE_CHECKING, Any

from sqlalchemy.orm import Session

from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.records.outbox import enqueue

if TYPE_CHECKING:
    from workflow.engine.definitions import Definition, TransitionDef


@dataclass
class FireContext:
    """One firing in progress; effects may change ``instance.data`` and other rows,
    add to ``audit`` (recorded with the transition) or ``enqueue`` more work."""

    session: Session
    instance: WorkflowInstance
    definition: Definition
    transition: TransitionDef
    actor: Actor
    payload: dict[str, Any]
    comment: str | None
    from_state: str
    now: datetime
    request_id: str | None = None
    audit: dict[str, Any] = field(default_factory=dict)
    dest: str | None = None
    # An effect may set the SLA due time of the state being entered (e.g. by alert level).
    sla_due_at: datetime | None = None

    def enqueue(self, task: str, args: dict[str, Any] | None = None) -> int:
        """Queue background work after commit; returns the outbox id."""
        return enqueue(self.session, task, args, instance_id=self.instance.id)


@dataclass
class TaskContext:
    """A background task being run by a worker, inside the transaction that marks it done."""

    session: Session
    task: str
    args: dict[str, Any]
    instance: WorkflowInstance | None
    outbox_id: int
    attempt: int
    now: datetime
