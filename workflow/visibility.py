"""Who may see which cases, and how much of their data."""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from .errors import NotFound
from .identity import Actor
from .models import WorkflowInstance
from .registry import Registry

# Roles that see every case (SPEC 1): approvers, managers and auditors.
SEE_ALL = frozenset({"risk_officer", "legal", "manager", "auditor"})


def sees_everything(actor: Actor) -> bool:
    """Approvers, managers, auditors and the system see every case and its full data."""
    return actor.has_any(SEE_ALL) or actor.is_system


def can_view(session: Session, instance: WorkflowInstance, actor: Actor, registry: Registry) -> bool:
    if actor.has_any(SEE_ALL) or actor.is_system:
        return True
    if actor.username == instance.created_by or actor.username in (instance.assignees or []):
        return True
    owner_of = registry.subject_owners.get(instance.subject_type or "")
    if owner_of is not None and instance.subject_id is not None:
        return owner_of(session, instance.subject_id) == actor.username
    return False


def require_view(session: Session, instance: WorkflowInstance | None, actor: Actor,
                 registry: Registry, instance_id: int) -> WorkflowInstance:
    """Raises:
        NotFound: missing, or not visible to ``actor`` (not revealed as forbidden)."""
    if instance is None or not can_view(session, instance, actor, registry):
        raise NotFound(f"workflow instance {instance_id} does not exist",
                       code="instance.not_found", params={"id": instance_id})
    return instance


def data_for(session: Session, instance: WorkflowInstance, actor: Actor, registry: Registry) -> dict[str, Any]:
    view = registry.data_views.get(instance.definition)
    if view is None:
        return dict(instance.data or {})
    return view(session, instance, actor)
