"""Moving open instances of a definition to another of its versions, and back.

Instances are pinned to the version they started on (``definition_version``; the
version's content hash is kept in ``definitions``). :func:`plan` is the dry run: every
open instance on another version is classified ``migratable`` or ``blocked`` with a
machine-readable reason (:data:`REASONS`) and the state it would be in (an optional
state map renames states). :func:`apply` moves the migratable ones in batches, one
transaction per batch with the rows locked (``SKIP LOCKED`` on PostgreSQL, so a batch
never waits for a firing): the version, the SLA and the timers of the new version, one
``instance.migrated`` audit record on the instance's stream, and the before-image in
``definition_migration_items``. A crash loses at most the batch in flight, whole;
applying again continues the unfinished migration. :func:`revert` puts every instance
that has not moved since back as it was (``instance.migration_reverted``), its earlier
timers pending again. Each move raises the instance's ``version`` (as a firing does),
so a client holding the old version is told someone acted first.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.engine import runtime
from workflow.engine.catalog import Catalog
from workflow.engine.definitions import Definition
from workflow.engine.firing import subject_of
from workflow.errors import Conflict, Forbidden, NotFound, ValidationFailed
from workflow.platform import clock
from workflow.records import timers
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import (
    AuditRecord,
    DefinitionMigration,
    DefinitionMigrationItem,
    OutboxMessage,
    Timer,
    WorkflowInstance,
)

MIGRATED = "instance.migrated"
REVERTED = "instance.migration_reverted"

# Why an instance cannot move (``InstancePlan.reason``).
REASONS = (
    "state_removed",  # its state (after the state map) is not in the target version
    "state_final",  # its state is final in the target version while the case is open
    "required_data_missing",  # the target state ``requires`` data keys the case lacks
    "tasks_pending",  # background work queued by the old version has not run yet
)
# Why a revert leaves an instance where it is.
REVERT_REASONS = ("changed_since_migration",)

BATCH = 500
Progress = Callable[[int, int], None]  # (instances done, instances in all)


@dataclass(frozen=True)
class InstancePlan:
    instance_id: int
    from_version: int
    state: str
    to_state: str
    status: str  # migratable | blocked (a revert: reverted | blocked)
    reason: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "from_version": self.from_version,
            "state": self.state,
            "to_state": self.to_state,
            "status": self.status,
            "reason": self.reason,
            "detail": self.detail,
        }


@dataclass
class Report:
    """What a dry run, an apply or a revert found, instance by instance."""

    definition: str
    to_version: int
    to_hash: str
    state_map: dict[str, str]
    instances: list[InstancePlan] = field(default_factory=list)
    migration_id: int | None = None
    status: str = "planned"  # planned | running | applied | reverted
    remaining: int = 0  # open instances still on another version that apply did not reach

    def counts(self) -> dict[str, int]:
        counts: dict[str, int] = {"migratable": 0, "blocked": 0}
        for item in self.instances:
            counts[item.status] = counts.get(item.status, 0) + 1
            if item.reason:
                counts[item.reason] = counts.get(item.reason, 0) + 1
        return counts

    def to_dict(self) -> dict[str, Any]:
        return {
            "migration_id": self.migration_id,
            "definition": self.definition,
            "to_version": self.to_version,
            "to_hash": self.to_hash,
            "state_map": self.state_map,
            "status": self.status,
            "counts": self.counts(),
            "remaining": self.remaining,
            "instances": [item.to_dict() for item in self.instances],
        }


def require_administrator(session: Session, actor: Actor) -> None:
    """The command line acts as the system and may too.

    Raises:
        Forbidden: ``actor`` holds none of the policy's ``administer`` roles."""
    administer = runtime.of(session).policy.administer
    if not (actor.has_any(administer) or actor.is_system):
        raise Forbidden(
            "moving running instances to another definition version needs one of the roles "
            f"{', '.join(sorted(administer)) or '(none configured)'}",
            rule="role",
        )


def target(catalog: Catalog, name: str, to_version: int) -> Definition:
    """Raises:
    NotFound: no definition ``name``.
    ValidationFailed: it has no version ``to_version`` (``errors['to_version']``), or that
        version is a shipped file still waiting for approval (pending)."""
    catalog.get(name)
    versions = [d.version for d in catalog.versions(name) if not catalog.is_pending(d)]
    if to_version not in versions:
        held = catalog.pending(name)
        waiting = held is not None and held.version == to_version
        raise ValidationFailed(
            f"{name} version {to_version} is shipped but waits for a manager's approval "
            f"(its configuration change of definition:{name})"
            if waiting
            else f"{name} has no version {to_version}",
            errors={
                "to_version": [
                    f"not approved yet; {name} has {versions}"
                    if waiting
                    else f"unknown version; {name} has {versions}"
                ]
            },
        )
    return catalog.get(name, to_version)


def check_state_map(
    catalog: Catalog, name: str, goal: Definition, state_map: dict[str, str] | None
) -> dict[str, str]:
    """Raises:
    ValidationFailed: a key that is no state of any version of ``name``, or a value that
    is no open state of the target version (``errors['state_map'][key]``)."""
    state_map = dict(state_map or {})
    known = {s for d in catalog.versions(name) for s in d.states}
    problems: dict[str, list[str]] = {}
    for old, new in state_map.items():
        if old not in known:
            problems[old] = [f"{name} has no state {old!r} in any version"]
        elif new not in goal.states:
            problems[old] = [
                f"version {goal.version} has no state {new!r}; use one of {sorted(goal.states)}"
            ]
        elif goal.states[new].final:
            problems[old] = [f"{new!r} is final in version {goal.version}; map to an open state"]
    if problems:
        raise ValidationFailed("the state map names unknown states", errors={"state_map": problems})
    return state_map


def classify(
    instance: Any,
    goal: Definition,
    state_map: dict[str, str],
    pending_tasks: bool,
) -> InstancePlan:
    """Whether ``instance`` (any object with ``id``, ``definition_version``, ``state``,
    ``data``) can move to ``goal``, and to which state."""
    to_state = state_map.get(instance.state, instance.state)

    def plan(status: str, reason: str | None = None, **detail: Any) -> InstancePlan:
        return InstancePlan(
            instance.id,
            instance.definition_version,
            instance.state,
            to_state,
            status,
            reason,
            detail,
        )

    spec = goal.states.get(to_state)
    if spec is None:
        return plan("blocked", "state_removed")
    if spec.final:
        return plan("blocked", "state_final")
    data = instance.data or {}
    missing = [key for key in spec.requires if data.get(key) in (None, "", [], {})]
    if missing:
        return plan("blocked", "required_data_missing", fields=missing)
    if pending_tasks:
        return plan("blocked", "tasks_pending")
    return plan("migratable")


def plan(
    session: Session, name: str, to_version: int, state_map: dict[str, str] | None = None
) -> Report:
    """The dry run: every open instance of ``name`` on another version, classified.

    Raises: as :func:`target` and :func:`check_state_map`.
    """
    return plan_against(session, target(runtime.of(session).catalog, name, to_version), state_map)


def plan_against(
    session: Session,
    goal: Definition,
    state_map: dict[str, str] | None = None,
    *,
    progress: Progress | None = None,
) -> Report:
    """The dry run against ``goal``, a compiled version that need not be in the catalog
    yet (a candidate under review); reads only.

    Raises: as :func:`check_state_map`.
    """
    catalog = runtime.of(session).catalog
    state_map = check_state_map(catalog, goal.name, goal, state_map)
    report = Report(goal.name, goal.version, goal.content_hash, state_map)
    total = _open_elsewhere(session, goal.name, goal.version) if progress else 0
    for batch in _batches(session, goal.name, goal.version, lock=False):
        report.instances.extend(_classified(session, batch, goal, state_map))
        if progress is not None:
            progress(len(report.instances), total)
    return report


def apply(
    session: Session,
    name: str,
    to_version: int,
    actor: Actor,
    state_map: dict[str, str] | None = None,
    *,
    batch_size: int = BATCH,
    progress: Progress | None = None,
    request_id: str | None = None,
) -> Report:
    """Move every migratable open instance of ``name`` to ``to_version``, committing the
    session after each batch. An unfinished migration to the same version is continued.

    Raises:
        NotFound, ValidationFailed: as :func:`plan`.
        Forbidden: ``actor`` may not move instances (:func:`require_administrator`).
        Conflict: an unfinished migration to this version used another state map.
    """
    require_administrator(session, actor)
    catalog = runtime.of(session).catalog
    goal = target(catalog, name, to_version)
    state_map = check_state_map(catalog, name, goal, state_map)
    record = _running(session, name, to_version, state_map, actor)
    session.commit()
    report = Report(name, to_version, goal.content_hash, state_map, migration_id=record.id)
    total = _open_elsewhere(session, name, to_version)
    try:
        report.instances = _apply_batches(
            session, record, goal, state_map, actor, batch_size, progress, request_id, total
        )
    except BaseException:
        session.rollback()  # the batch in flight, whole; earlier batches stay committed
        raise
    record.blocked = sum(1 for p in report.instances if p.status == "blocked")
    report.remaining = _open_elsewhere(session, name, to_version) - record.blocked
    record.status = report.status = "applied"
    record.finished_at = clock.now()
    session.commit()
    return report


def _apply_batches(
    session: Session,
    record: DefinitionMigration,
    goal: Definition,
    state_map: dict[str, str],
    actor: Actor,
    batch_size: int,
    progress: Progress | None,
    request_id: str | None,
    total: int,
) -> list[InstancePlan]:
    catalog = runtime.of(session).catalog
    name, to_version = record.definition, record.to_version
    done = 0
    planned: list[InstancePlan] = []
    for batch in _batches(session, name, to_version, lock=True, size=batch_size):
        plans = _classified(session, batch, goal, state_map)
        by_id = {i.id: i for i in batch}
        now = clock.now()
        moving = [p for p in plans if p.status == "migratable"]
        pending = _pending_timers(session, [p.instance_id for p in moving])
        writes = _Writes()
        for item in moving:
            instance = by_id[item.instance_id]
            source = catalog.get(name, instance.definition_version)
            _move(session, record, instance, source, goal, item.to_state, pending, now, writes)
            if source.version not in record.from_versions:
                record.from_versions = [*record.from_versions, source.version]
            writes.chain(
                instance,
                MIGRATED,
                actor,
                now,
                request_id,
                definition=record.definition,
                definition_version=record.to_version,
                from_state=item.state,
                to_state=item.to_state,
                payload={
                    "migration_id": record.id,
                    "from_version": item.from_version,
                    "to_version": record.to_version,
                    "from_hash": source.content_hash,
                    "to_hash": record.to_hash,
                },
            )
        writes.write(session)
        record.migrated += len(moving)
        planned.extend(plans)
        session.commit()
        done += len(batch)
        if progress is not None:
            progress(done, total)
    return planned


def revert(
    session: Session,
    migration_id: int,
    actor: Actor,
    *,
    batch_size: int = BATCH,
    progress: Progress | None = None,
    request_id: str | None = None,
) -> Report:
    """Put back every instance ``migration_id`` moved that has not moved since, committing
    after each batch.

    Raises:
        Forbidden: ``actor`` may not move instances (:func:`require_administrator`).
        NotFound: no such migration.
        Conflict: it was reverted already.
    """
    require_administrator(session, actor)
    record = get(session, migration_id)
    if record.status == "reverted":
        raise Conflict(f"migration {migration_id} was reverted already")
    report = Report(
        record.definition,
        record.to_version,
        record.to_hash,
        dict(record.state_map or {}),
        migration_id=record.id,
    )
    total = session.query(DefinitionMigrationItem).filter_by(migration_id=record.id).count()
    done = 0
    while True:
        items = list(
            session.execute(
                select(DefinitionMigrationItem)
                .where(
                    DefinitionMigrationItem.migration_id == record.id,
                    DefinitionMigrationItem.reverted_at.is_(None),
                    DefinitionMigrationItem.instance_id
                    > (report.instances[-1].instance_id if report.instances else 0),
                )
                .order_by(DefinitionMigrationItem.instance_id)
                .limit(batch_size)
            ).scalars()
        )
        if not items:
            break
        instances = {
            i.id: i
            for i in session.execute(
                _locked(
                    select(WorkflowInstance).where(
                        WorkflowInstance.id.in_([item.instance_id for item in items])
                    ),
                    session,
                    skip=False,
                )
            ).scalars()
        }
        now = clock.now()
        restorable = [
            item
            for item in items
            if (found := instances.get(item.instance_id)) is not None
            and found.version == item.after_version
        ]
        _reset_timers(session, restorable)
        writes = _Writes()
        for item in items:
            found = instances.get(item.instance_id)
            if item in restorable and found is not None:
                report.instances.append(
                    _restore(record, item, found, now, actor, request_id, writes)
                )
            else:
                report.instances.append(_unrestorable(record, item, found))
        writes.write(session)
        session.commit()
        done += len(items)
        if progress is not None:
            progress(done, total)
    record.status = report.status = "reverted"
    record.reverted_by = actor.username
    record.reverted_at = clock.now()
    session.commit()
    return report


def get(session: Session, migration_id: int, name: str | None = None) -> DefinitionMigration:
    """Raises:
    NotFound: no such migration (of the definition ``name``, when given)."""
    record = session.get(DefinitionMigration, migration_id)
    if record is None or (name is not None and record.definition != name):
        raise NotFound(f"definition migration {migration_id} does not exist")
    return record


def describe(session: Session, record: DefinitionMigration) -> dict[str, Any]:
    """A migration as the API shows it: who, when, what, and each instance it moved."""
    items = session.execute(
        select(DefinitionMigrationItem)
        .where(DefinitionMigrationItem.migration_id == record.id)
        .order_by(DefinitionMigrationItem.instance_id)
    ).scalars()
    return {
        "id": record.id,
        "definition": record.definition,
        "from_versions": list(record.from_versions or []),
        "to_version": record.to_version,
        "to_hash": record.to_hash,
        "state_map": dict(record.state_map or {}),
        "status": record.status,
        "migrated": record.migrated,
        "blocked": record.blocked,
        "created_by": record.created_by,
        "created_at": record.created_at,
        "finished_at": record.finished_at,
        "reverted_by": record.reverted_by,
        "reverted_at": record.reverted_at,
        "instances": [
            {
                "instance_id": item.instance_id,
                "from_version": item.before["definition_version"],
                "from_state": item.before["state"],
                "from_hash": item.from_hash,
                "reverted": item.reverted_at is not None,
            }
            for item in items
        ],
    }


# --- reading -------------------------------------------------------------------------


def _open_elsewhere(session: Session, name: str, to_version: int) -> int:
    return (
        session.query(WorkflowInstance)
        .filter(
            WorkflowInstance.definition == name,
            WorkflowInstance.is_open.is_(True),
            WorkflowInstance.definition_version != to_version,
        )
        .count()
    )


def _locked(query: Any, session: Session, *, skip: bool) -> Any:
    if session.get_bind().dialect.name == "postgresql":
        return query.with_for_update(skip_locked=skip)
    return query  # SQLite: one writer at a time; the batch's transaction holds the file


def _batches(
    session: Session, name: str, to_version: int, *, lock: bool, size: int = BATCH
) -> Iterator[list[WorkflowInstance]]:
    """Open instances on another version, in id order, ``size`` at a time (locked with
    ``SKIP LOCKED`` when ``lock``: one a firing holds is left for the next apply)."""
    after = 0
    while True:
        query = (
            select(WorkflowInstance)
            .where(
                WorkflowInstance.definition == name,
                WorkflowInstance.is_open.is_(True),
                WorkflowInstance.definition_version != to_version,
                WorkflowInstance.id > after,
            )
            .order_by(WorkflowInstance.id)
            .limit(size)
        )
        batch = list(
            session.execute(_locked(query, session, skip=True) if lock else query).scalars()
        )
        if not batch:
            return
        after = batch[-1].id
        yield batch


def _classified(
    session: Session, batch: list[WorkflowInstance], goal: Definition, state_map: dict[str, str]
) -> list[InstancePlan]:
    busy = set(
        session.execute(
            select(OutboxMessage.instance_id).where(
                OutboxMessage.instance_id.in_([i.id for i in batch]),
                OutboxMessage.status == "pending",
            )
        ).scalars()
    )
    return [classify(i, goal, state_map, i.id in busy) for i in batch]


def _pending_timers(session: Session, ids: Iterable[int]) -> dict[int, list[Any]]:
    """The pending timers of each instance, as plain rows (id, instance, state, trigger, due)."""
    found: dict[int, list[Any]] = {}
    for timer in session.execute(
        select(Timer.id, Timer.instance_id, Timer.state, Timer.trigger, Timer.due_at).where(
            Timer.instance_id.in_(list(ids)), Timer.status == "pending", Timer.kind == "transition"
        )
    ):
        found.setdefault(timer.instance_id, []).append(timer)
    return found


def _running(
    session: Session, name: str, to_version: int, state_map: dict[str, str], actor: Actor
) -> DefinitionMigration:
    """The unfinished migration of ``name`` to ``to_version``, or a new one. One migration
    of a definition runs at a time (a partial unique index holds it against a race).

    Raises:
        Conflict: an unfinished migration goes elsewhere or uses another state map, or
        another one started first.
    """
    record = session.execute(
        select(DefinitionMigration).where(
            DefinitionMigration.definition == name, DefinitionMigration.status == "running"
        )
    ).scalar_one_or_none()
    if record is not None:
        if record.to_version != to_version or dict(record.state_map or {}) != state_map:
            raise Conflict(
                f"migration {record.id} of {name} to version {record.to_version} with the "
                f"state map {record.state_map} is unfinished; apply it again to finish it, "
                "or revert it, before another one"
            )
        return record
    goal = runtime.of(session).catalog.get(name, to_version)
    record = DefinitionMigration(
        definition=name,
        from_versions=[],
        to_version=to_version,
        to_hash=goal.content_hash,
        state_map=state_map,
        status="running",
        migrated=0,
        blocked=0,
        created_by=actor.username,
        created_at=clock.now(),
    )
    try:
        with session.begin_nested():
            session.add(record)
    except IntegrityError as exc:
        raise Conflict(f"another migration of {name} started just now; try again") from exc
    return record


# --- moving --------------------------------------------------------------------------


def _iso(at: datetime | None) -> str | None:
    return at.isoformat() if at is not None else None


def _parse(at: str | None) -> datetime | None:
    return datetime.fromisoformat(at) if at is not None else None


def _move(
    session: Session,
    record: DefinitionMigration,
    instance: WorkflowInstance,
    source: Definition,
    goal: Definition,
    to_state: str,
    pending: dict[int, list[Any]],
    now: datetime,
    writes: _Writes,
) -> None:
    """Move one locked instance: before-image, timers, columns (the audit record follows)."""
    old_timers = pending.get(instance.id, [])
    session.add(
        DefinitionMigrationItem(
            migration_id=record.id,
            instance_id=instance.id,
            before={
                "definition_version": instance.definition_version,
                "state": instance.state,
                "version": instance.version,
                "sla_due_at": _iso(instance.sla_due_at),
                "state_entered_at": _iso(instance.state_entered_at),
                "breached": instance.breached,
                "timers": [t.id for t in old_timers],
            },
            after_version=instance.version + 1,
            from_hash=source.content_hash,
        )
    )
    writes.cancelled.extend(t.id for t in old_timers)
    spec = goal.states[to_state]
    if to_state != instance.state:
        instance.state_entered_at = now
        instance.breached = False
        for t in goal.timers_for(to_state):
            writes.arm(instance.id, to_state, t.trigger, now + t.after)
    else:
        for trigger, due_at in _rearmed(source, goal, instance, old_timers):
            writes.arm(instance.id, to_state, trigger, due_at)
    instance.sla_due_at = instance.state_entered_at + spec.sla if spec.sla else None
    instance.state = to_state
    instance.definition_version = goal.version
    instance.version += 1
    instance.updated_at = now


def _rearmed(
    source: Definition, goal: Definition, instance: WorkflowInstance, old: list[Any]
) -> list[tuple[str, datetime]]:
    """The new version's timers of a state the instance stays in: a pending timer keeps its
    place in the schedule, moved by the change of its delay (a repeating escalation is not
    run again); a timer the old version had and already ran is not armed again; a timer
    new to the state counts from when the instance entered it."""
    state = instance.state
    pending = {t.trigger: t for t in old if t.state == state}
    before = {t.trigger: t.after for t in source.timers_for(state)}
    armed = []
    for t in goal.timers_for(state):
        if t.trigger in pending:
            due = pending[t.trigger].due_at + (t.after - before.get(t.trigger, t.after))
        elif t.trigger in before:
            continue
        else:
            due = instance.state_entered_at + t.after
        armed.append((t.trigger, due))
    return armed


class _Writes:
    """The audit records and timers of one batch, inserted by one statement each."""

    def __init__(self) -> None:
        self.records: list[dict[str, Any]] = []
        self.timers: list[dict[str, Any]] = []
        self.cancelled: list[int] = []  # ids of pending timers the batch cancels

    def arm(self, instance_id: int, state: str, trigger: str, due_at: datetime) -> None:
        self.timers.append(timers.row(instance_id, state, trigger, due_at))

    def chain(
        self,
        instance: WorkflowInstance,
        kind: str,
        actor: Actor,
        at: datetime,
        request_id: str | None,
        **fields: Any,
    ) -> None:
        """The next record of the instance's chain; its head moves on the (locked) row."""
        values = audit.record_values(
            instance.audit_seq + 1,
            instance.audit_hash,
            audit.instance_stream(instance.id),
            kind,
            actor,
            at=at,
            instance_id=instance.id,
            subject=subject_of(instance),
            request_id=request_id,
            **fields,
        )
        instance.audit_seq, instance.audit_hash = values["seq"], values["hash"]
        self.records.append(values)

    def write(self, session: Session) -> None:
        connection = session.connection()
        if self.cancelled:
            connection.execute(
                update(Timer).where(Timer.id.in_(self.cancelled)).values(status="cancelled")
            )
        if self.records:
            connection.execute(insert(AuditRecord), self.records)
        if self.timers:
            connection.execute(insert(Timer), self.timers)


def _reset_timers(session: Session, items: list[DefinitionMigrationItem]) -> None:
    """Cancel the timers the migration armed and make the ones it cancelled pending again."""
    if not items:
        return
    connection = session.connection()
    connection.execute(
        update(Timer)
        .where(
            Timer.instance_id.in_([item.instance_id for item in items]),
            Timer.status == "pending",
            Timer.kind == "transition",
        )
        .values(status="cancelled")
    )
    earlier = [timer_id for item in items for timer_id in item.before["timers"]]
    if earlier:
        connection.execute(update(Timer).where(Timer.id.in_(earlier)).values(status="pending"))


def _unrestorable(
    record: DefinitionMigration, item: DefinitionMigrationItem, instance: WorkflowInstance | None
) -> InstancePlan:
    before = item.before
    return InstancePlan(
        item.instance_id,
        record.to_version,
        instance.state if instance is not None else before["state"],
        before["state"],
        "blocked",
        "changed_since_migration",
    )


def _restore(
    record: DefinitionMigration,
    item: DefinitionMigrationItem,
    instance: WorkflowInstance,
    now: datetime,
    actor: Actor,
    request_id: str | None,
    writes: _Writes,
) -> InstancePlan:
    """Put one locked instance back as its before-image says (its timers are reset)."""
    before = item.before
    from_state = instance.state
    instance.definition_version = before["definition_version"]
    instance.state = before["state"]
    instance.sla_due_at = _parse(before["sla_due_at"])
    entered = _parse(before["state_entered_at"])
    assert entered is not None
    instance.state_entered_at = entered
    instance.breached = before["breached"]
    instance.version += 1
    instance.updated_at = now
    item.reverted_at = now
    writes.chain(
        instance,
        REVERTED,
        actor,
        now,
        request_id,
        definition=record.definition,
        definition_version=instance.definition_version,
        from_state=from_state,
        to_state=instance.state,
        payload={
            "migration_id": record.id,
            "from_version": record.to_version,
            "to_version": instance.definition_version,
            "from_hash": record.to_hash,
            "to_hash": item.from_hash,
        },
    )
    return InstancePlan(instance.id, record.to_version, from_state, instance.state, "reverted")
