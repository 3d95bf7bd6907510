"""The inbox: open cases the actor can act on now, most urgent first."""

from __future__ import annotations

from collections.abc import Iterable, Iterator, Sequence
from datetime import datetime

from sqlalchemy import Select, select, tuple_, union_all
from sqlalchemy.orm import Session

from workflow.engine import firing as engine
from workflow.engine import visibility
from workflow.engine.builtins.guards import TRIGGER_ACTORS
from workflow.engine.catalog import Catalog
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance

# Later batches (when guards or visibility turned candidates down) grow up to this size.
MAX_BATCH = 1000

Key = tuple[datetime | None, int]


def actionable_states(catalog: Catalog, actor: Actor) -> list[tuple[str, int, str]]:
    """(definition, version, state) triples where some transition admits one of the
    actor's roles; system-only steps are nobody's task."""
    triples = set()
    for name in [d.name for d in catalog.latest()]:
        for definition in catalog.versions(name):
            for t in definition.transitions:
                if t.system_only or not actor.has_any(t.roles):
                    continue
                for source in t.sources:
                    triples.add((definition.name, definition.version, source))
    return sorted(triples)


def inbox(
    session: Session,
    catalog: Catalog,
    actor: Actor,
    *,
    limit: int = 50,
    definition: str | None = None,
) -> Iterator[tuple[WorkflowInstance, list[str]]]:
    """Yield up to ``limit`` (instance, available actions), by SLA due time (none last)
    then age (id).

    Candidates are read a batch at a time: per actionable (definition, version, state)
    the first open cases in that order, each an early-stopping range of the partial
    index ``ix_workflow_instances_open_state_due``, merged and cut to the batch size;
    the next batch continues after the last candidate's (due time, id). Guards,
    assignment and visibility are checked on each candidate in Python, with the audit
    lookups of segregation guards (``not_actor_of`` …) made once per batch, so a page
    costs the same few queries whatever the history size and the page size.
    """
    triples = [
        t for t in actionable_states(catalog, actor) if definition is None or t[0] == definition
    ]
    if not triples:
        return
    found = 0
    after: Key | None = None
    batch = limit + 10
    previous = session.info.get(TRIGGER_ACTORS)
    try:
        while found < limit:
            rows = list(session.execute(_candidates(triples, after, batch)).scalars())
            if not rows:
                return
            after = (rows[-1].sla_due_at, rows[-1].id)
            session.info[TRIGGER_ACTORS] = TriggerActors(session, [r.id for r in rows])
            if not visibility.sees_everything(actor, catalog):
                visibility.preload_owners(session, rows, catalog)
            for instance in rows:
                if not visibility.can_view(session, instance, actor, catalog):
                    continue
                actions = engine.available_actions(session, instance, actor)
                if actions:
                    yield instance, actions
                    found += 1
                    if found == limit:
                        return
            if len(rows) < batch:
                return
            batch = min(batch * 2, MAX_BATCH)
    finally:
        session.info.pop(visibility.OWNERS, None)
        if previous is None:
            session.info.pop(TRIGGER_ACTORS, None)
        else:
            session.info[TRIGGER_ACTORS] = previous


def _candidates(
    triples: Sequence[tuple[str, int, str]], after: Key | None, size: int
) -> Select[WorkflowInstance]:
    """The next ``size`` open cases in the triples' states after ``after``, in inbox order.

    Each branch is one index range read in order with its own LIMIT; the union of the
    branches' first ``size`` holds the overall first ``size``. Cases without a due time
    come last: after a dated key, a second branch per state reads the undated ones."""
    wi = WorkflowInstance
    branches = []
    for name, version, state in triples:
        # ``is_open`` as the partial index's own predicate (``is_open IS TRUE`` does not
        # let PostgreSQL use it)
        base = select(wi.id, wi.sla_due_at).where(
            wi.is_open, wi.definition == name, wi.definition_version == version, wi.state == state
        )
        if after is None:
            parts = [base]
        elif after[0] is None:
            parts = [base.where(wi.sla_due_at.is_(None), wi.id > after[1])]
        else:
            parts = [
                base.where(tuple_(wi.sla_due_at, wi.id) > tuple_(after[0], after[1])),
                base.where(wi.sla_due_at.is_(None)),
            ]
        for part in parts:
            ordered = part.order_by(wi.sla_due_at.asc().nulls_last(), wi.id).limit(size).subquery()
            branches.append(select(ordered.c.id, ordered.c.sla_due_at))
    found = (branches[0] if len(branches) == 1 else union_all(*branches)).subquery("candidates")
    return (
        select(wi)
        .join(found, wi.id == found.c.id)
        .order_by(found.c.sla_due_at.asc().nulls_last(), found.c.id)
        .limit(size)
    )


class TriggerActors:
    """Who fired which trigger on each case of one batch, read in one query (all the
    batch's transitions: guards ask about different triggers) when a guard first asks
    (``builtins.actors_of``); None for a case outside the batch."""

    def __init__(self, session: Session, instance_ids: list[int]) -> None:
        self.session = session
        self.streams = {audit.instance_stream(i): i for i in instance_ids}
        self.known: dict[int, list[tuple[str, str]]] | None = None

    def __call__(self, instance_id: int, triggers: Iterable[str]) -> set[str] | None:
        if audit.instance_stream(instance_id) not in self.streams:
            return None
        if self.known is None:
            self.known = {i: [] for i in self.streams.values()}
            rows = self.session.execute(
                select(AuditRecord.stream, AuditRecord.trigger, AuditRecord.actor).where(
                    AuditRecord.stream.in_(list(self.streams)),
                    AuditRecord.trigger.is_not(None),
                )
            )
            for stream, trigger, actor in rows:
                if trigger is not None:
                    self.known[self.streams[stream]].append((trigger, actor))
        asked = set(triggers)
        return {actor for trigger, actor in self.known[instance_id] if trigger in asked}
