"""A workflow instance as one actor sees it: what the API returns and the console shows."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from workflow.engine import firing as engine
from workflow.engine import runtime, visibility
from workflow.engine.builtins.guards import TRIGGER_ACTORS
from workflow.engine.definitions import Definition
from workflow.engine.inbox import TriggerActors
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance


def present_instance(
    session: Session, instance: WorkflowInstance, actor: Actor, actions: list[str] | None = None
) -> dict[str, Any]:
    """The instance as ``actor`` sees it; ``actions``: its available actions when the
    caller has worked them out already (the inbox), else they are worked out here."""
    catalog = runtime.of(session).catalog
    definition = catalog.get(instance.definition, instance.definition_version)
    return {
        "id": instance.id,
        "definition": instance.definition,
        "definition_version": instance.definition_version,
        "state": instance.state,
        "state_label": definition.states[instance.state].label,
        "version": instance.version,
        "is_open": instance.is_open,
        "subject_type": instance.subject_type,
        "subject_id": instance.subject_id,
        "parent_id": instance.parent_id,
        "created_by": instance.created_by,
        "assignees": list(instance.assignees or []),
        "available_actions": actions
        if actions is not None
        else _available_actions(session, instance, actor, definition),
        "sla_due_at": instance.sla_due_at,
        "breached": instance.breached,
        "data": visibility.data_for(session, instance, actor, catalog),
        "created_at": instance.created_at,
        "updated_at": instance.updated_at,
        "state_entered_at": instance.state_entered_at,
        "definition_title": definition.title,
    }


def _available_actions(
    session: Session, instance: WorkflowInstance, actor: Actor, definition: Definition
) -> list[str]:
    """``engine.available_actions`` with who fired what on the case read once (one index
    range), not once per guarded transition (``not_actor_of`` on each way out of a state)."""
    if session.info.get(TRIGGER_ACTORS) is not None:  # a caller's batch already answers
        return engine.available_actions(session, instance, actor, definition)
    session.info[TRIGGER_ACTORS] = TriggerActors(session, [instance.id])
    try:
        return engine.available_actions(session, instance, actor, definition)
    finally:
        session.info.pop(TRIGGER_ACTORS, None)
