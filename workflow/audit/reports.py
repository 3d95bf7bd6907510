"""Closed-loop and SLA reports, computed from the audit trail itself.

Every figure comes from an instance's audit records, so a report is exactly as
trustworthy as the verified trail:

- a *stage* is a stay in one state, from the record that entered it to the
  record that left it (self-transitions such as an SLA escalation stay in it);
- a *breach* is a record written by the ``mark_breached`` effect (its payload
  carries ``breaches``), or a stage longer than its state's fixed SLA;
- a *reopen* is a transition back to a state the case first reached earlier
  than the one it leaves (an alert's ``reopen``, an onboarding returned to
  sales for more information); going forward again afterwards is not one.
"""

from __future__ import annotations

import statistics
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.audit.search import parse_cursor
from workflow.engine import runtime
from workflow.engine.catalog import Catalog
from workflow.errors import Forbidden
from workflow.records import chain
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance
from workflow.records.trail import instance_stream

REPORT_ROLES = frozenset({"auditor", "manager"})


def require_report_reader(actor: Actor) -> None:
    """Raises:
    Forbidden: the actor is neither an auditor nor a manager."""
    if not (actor.is_system or actor.has_any(REPORT_ROLES)):
        raise Forbidden("reports are for auditors and managers", rule="role")


@dataclass(frozen=True)
class ReportFilter:
    since: datetime | None = None
    until: datetime | None = None
    definition: str | None = None
    level: str | None = None
    owner: str | None = None

    def check(self) -> ReportFilter:
        """An inverted period is not an error: nothing falls within it."""
        return self


@dataclass
class Stage:
    state: str
    entered_at: datetime
    left_at: datetime | None = None
    breaches: int = 0
    sla_seconds: float | None = None

    @property
    def seconds(self) -> float | None:
        return None if self.left_at is None else (self.left_at - self.entered_at).total_seconds()

    @property
    def breached(self) -> bool:
        seconds = self.seconds
        return self.breaches > 0 or (
            self.sla_seconds is not None and seconds is not None and seconds > self.sla_seconds
        )

    def to_dict(self) -> dict[str, Any]:
        return {
            "state": self.state,
            "entered_at": chain.isoformat(self.entered_at),
            "left_at": chain.isoformat(self.left_at),
            "seconds": self.seconds,
            "breached": self.breached,
            "breaches": self.breaches,
        }


@dataclass
class Loop:
    """One case's history folded into stages, steps, breaches and reopens."""

    instance: WorkflowInstance
    stages: list[Stage] = field(default_factory=list)
    steps: list[dict[str, Any]] = field(default_factory=list)
    reopens: int = 0
    breaches: int = 0

    def to_dict(self, owner: str | None) -> dict[str, Any]:
        inst = self.instance
        opened = self.stages[0].entered_at if self.stages else None
        closed = self.stages[-1].entered_at if self.stages and not inst.is_open else None
        return {
            "id": inst.id,
            "definition": inst.definition,
            "subject_type": inst.subject_type,
            "subject_id": inst.subject_id,
            "owner": owner,
            "level": (inst.data or {}).get("level"),
            "state": inst.state,
            "is_open": inst.is_open,
            "opened_at": chain.isoformat(opened),
            "closed_at": chain.isoformat(closed),
            "total_seconds": (closed - opened).total_seconds() if opened and closed else None,
            "breaches": self.breaches,
            "reopens": self.reopens,
            "actors": sorted({s["actor"] for s in self.steps}),
            "stages": [s.to_dict() for s in self.stages if s.left_at is not None],
            "steps": self.steps,
        }


def fold(catalog: Catalog, instance: WorkflowInstance, records: Iterator[AuditRecord]) -> Loop:
    """Fold an instance's records (in sequence order) into its loop."""
    definition = _definition(catalog, instance)
    loop = Loop(instance)
    first_visit: dict[str, int] = {}
    for rec in records:
        if rec.kind == "started" and rec.to_state:
            loop.stages.append(
                Stage(rec.to_state, rec.at, sla_seconds=_sla(definition, rec.to_state))
            )
            first_visit.setdefault(rec.to_state, 0)
            continue
        if rec.kind != "transition" or not loop.stages:
            continue
        loop.steps.append(
            {
                "seq": rec.seq,
                "trigger": rec.trigger,
                "from_state": rec.from_state,
                "to_state": rec.to_state,
                "actor": rec.actor,
                "at": chain.isoformat(rec.at),
                "comment": rec.comment,
            }
        )
        current = loop.stages[-1]
        if "breaches" in (rec.payload or {}):
            current.breaches += 1
            loop.breaches += 1
        if rec.to_state == rec.from_state or rec.to_state is None:
            continue
        current.left_at = rec.at
        back_to = first_visit.get(rec.to_state)
        if back_to is not None and back_to < first_visit.get(current.state, back_to):
            loop.reopens += 1
        first_visit.setdefault(rec.to_state, len(first_visit))
        loop.stages.append(Stage(rec.to_state, rec.at, sla_seconds=_sla(definition, rec.to_state)))
    return loop


def _definition(catalog: Catalog, instance: WorkflowInstance) -> Any:
    try:
        return catalog.get(instance.definition, instance.definition_version)
    except Exception:  # a definition no longer loaded: stages still count, fixed SLAs unknown
        return None


def _sla(definition: Any, state: str) -> float | None:
    spec = definition.states.get(state) if definition is not None else None
    return spec.sla.total_seconds() if spec is not None and spec.sla else None


def owner_of(session: Session, instance: WorkflowInstance) -> str | None:
    finder = runtime.of(session).registry.subject_owners.get(instance.subject_type or "")
    if finder is not None and instance.subject_id is not None:
        return finder(session, instance.subject_id)
    return instance.created_by


def iter_loops(
    session: Session,
    where: ReportFilter,
    *,
    finished_only: bool,
    after_id: int = 0,
    batch: int = 200,
) -> Iterator[tuple[Loop, str | None]]:
    """Matching cases with their folded history, by id; one batch of instances at a time."""
    where.check()
    while True:
        query = select(WorkflowInstance).where(WorkflowInstance.id > after_id)
        if finished_only:
            query = query.where(WorkflowInstance.is_open.is_(False))
        if where.definition:
            query = query.where(WorkflowInstance.definition == where.definition)
        if where.since is not None:  # nothing of a case changes after its last update
            query = query.where(WorkflowInstance.updated_at >= where.since)
        if where.until is not None:
            query = query.where(WorkflowInstance.created_at < where.until)
        instances = list(
            session.execute(query.order_by(WorkflowInstance.id).limit(batch)).scalars()
        )
        if not instances:
            return
        for inst in instances:
            after_id = inst.id
            if where.level and (inst.data or {}).get("level") != where.level:
                continue
            owner = owner_of(session, inst)
            if where.owner and owner != where.owner:
                continue
            records = session.execute(
                select(AuditRecord)
                .where(AuditRecord.stream == instance_stream(inst.id))
                .order_by(AuditRecord.seq)
            ).scalars()
            yield fold(runtime.of(session).catalog, inst, iter(records)), owner


def _closed_in(loop: Loop, where: ReportFilter) -> bool:
    closed = loop.stages[-1].entered_at if loop.stages else None
    if closed is None:
        return False
    return (where.since is None or closed >= where.since) and (
        where.until is None or closed < where.until
    )


def iter_closed_loops(
    session: Session, actor: Actor, where: ReportFilter, after_id: int = 0
) -> Iterator[dict[str, Any]]:
    """Every finished case closed within the period, by id (streamed).

    Raises:
        Forbidden: the actor may not read reports (at once, not when iterated).
    """
    require_report_reader(actor)
    where.check()
    return (
        loop.to_dict(owner)
        for loop, owner in iter_loops(session, where, finished_only=True, after_id=after_id)
        if _closed_in(loop, where)
    )


def closed_loops(
    session: Session,
    actor: Actor,
    where: ReportFilter,
    *,
    limit: int = 50,
    cursor: str | None = None,
) -> tuple[list[dict[str, Any]], str | None]:
    """One page of :func:`iter_closed_loops`; (items, next cursor).

    Raises:
        Forbidden: the actor may not read reports.
        BadQuery: a malformed cursor.
    """
    items: list[dict[str, Any]] = []
    for item in iter_closed_loops(session, actor, where, parse_cursor(cursor)):
        if len(items) == limit:
            return items, str(items[-1]["id"])
        items.append(item)
    return items, None


def sla_report(session: Session, actor: Actor, where: ReportFilter) -> list[dict[str, Any]]:
    """Per workflow and stage: count, median and 90th percentile seconds, breach rate.

    A stage counts when it ended within the period.

    Raises:
        Forbidden: the actor may not read reports.
    """
    require_report_reader(actor)
    durations: dict[tuple[str, str], list[float]] = {}
    breached: dict[tuple[str, str], int] = {}
    for loop, _owner in iter_loops(session, where, finished_only=False):
        for stage in loop.stages:
            if stage.left_at is None or stage.seconds is None:
                continue
            if (where.since and stage.left_at < where.since) or (
                where.until and stage.left_at >= where.until
            ):
                continue
            key = (loop.instance.definition, stage.state)
            durations.setdefault(key, []).append(stage.seconds)
            breached[key] = breached.get(key, 0) + (1 if stage.breached else 0)
    rows = []
    for (definition, state), values in sorted(durations.items()):
        rows.append(
            {
                "definition": definition,
                "stage": state,
                "count": len(values),
                "median_seconds": statistics.median(values),
                "p90_seconds": percentile(values, 90),
                "breaches": breached[(definition, state)],
                "breach_rate": round(breached[(definition, state)] / len(values), 4),
            }
        )
    return rows


def percentile(values: list[float], pct: int) -> float:
    """Linear interpolation between closest ranks (Excel's PERCENTILE.INC)."""
    ordered = sorted(values)
    if len(ordered) == 1:
        return ordered[0]
    rank = (len(ordered) - 1) * pct / 100
    low = int(rank)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (rank - low)
