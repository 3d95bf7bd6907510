"""The inbox: open cases the actor can act on now, most urgent first."""

from __future__ import annotations

from collections.abc import Iterator

from sqlalchemy import and_, or_, select
from sqlalchemy.orm import Session

from . import engine, visibility
from .catalog import Catalog
from .identity import Actor
from .models import WorkflowInstance


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


def inbox(session: Session, catalog: Catalog, actor: Actor, *, limit: int = 50,
          definition: str | None = None) -> Iterator[tuple[WorkflowInstance, list[str]]]:
    """Yield up to ``limit`` (instance, available actions), by SLA due time then age.

    Uses the partial index on open cases ordered by due time, and checks guards
    (segregation of duties, assignment, visibility) on each candidate row.
    """
    triples = [t for t in actionable_states(catalog, actor) if definition is None or t[0] == definition]
    if not triples:
        return
    matches = or_(*[
        and_(WorkflowInstance.definition == d, WorkflowInstance.definition_version == v,
             WorkflowInstance.state == s)
        for d, v, s in triples
    ])
    stmt = (
        select(WorkflowInstance)
        .where(WorkflowInstance.is_open.is_(True), matches)
        .order_by(WorkflowInstance.sla_due_at.asc().nulls_last(), WorkflowInstance.id)
    )
    found = 0
    offset = 0
    batch = max(limit * 2, 50)
    while found < limit:
        rows = list(session.execute(stmt.offset(offset).limit(batch)).scalars())
        if not rows:
            return
        offset += len(rows)
        for instance in rows:
            if not visibility.can_view(session, instance, actor, catalog.registry):
                continue
            actions = engine.available_actions(session, instance, actor, catalog=catalog)
            if actions:
                yield instance, actions
                found += 1
                if found == limit:
                    return
