"""Who may see which cases, and how much of their data.

The catalog carries what decides it: the role policy (who sees every case) and the
registry (how to find a subject's owner, and each definition's data view)."""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from sqlalchemy.orm import Session

from workflow.engine.catalog import Catalog
from workflow.engine.registry import Registry
from workflow.errors import NotFound
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance


def sees_everything(actor: Actor, catalog: Catalog) -> bool:
    """Holders of the policy's see-all roles and the system see every case and its full data."""
    return catalog.policy.sees_everything(actor)


# session.info key: {(subject type, subject id): owner} read for a batch of cases by
# preload_owners, consulted by can_view before asking one subject at a time.
OWNERS = "riskloop.subject_owners"


def preload_owners(
    session: Session, instances: Iterable[WorkflowInstance], catalog: Catalog
) -> None:
    """Read the owners of ``instances``' subjects in one query per subject type (for the
    inbox and lists, so that checking a page of cases is not a query per case); the
    caller removes ``session.info[OWNERS]`` when done."""
    wanted: dict[str, set[int]] = {}
    for instance in instances:
        if instance.subject_type and instance.subject_id is not None:
            wanted.setdefault(instance.subject_type, set()).add(int(instance.subject_id))
    cache: dict[tuple[str, int], str | None] = session.info.setdefault(OWNERS, {})
    for subject_type, ids in wanted.items():
        batch = catalog.registry.subject_owner_batches.get(subject_type)
        if batch is None:
            continue
        ids -= {i for t, i in cache if t == subject_type}
        if ids:
            owners = batch(session, sorted(ids))
            cache.update({(subject_type, i): owners.get(i) for i in ids})


def can_view(session: Session, instance: WorkflowInstance, actor: Actor, catalog: Catalog) -> bool:
    """Whoever the role policy lets see everything (approvers, managers, auditors, the
    system) sees every case. Anyone else sees the cases of a subject they own now (a
    client's cases follow it to a new owner and are no longer the previous owner's, whoever
    started them); a case whose subject has no owner, if they started it or are assigned to it."""
    if catalog.policy.sees_everything(actor):
        return True
    owner = _subject_owner(session, instance, catalog.registry)
    if owner is not None:
        return owner == actor.username
    return actor.username == instance.created_by or actor.username in (instance.assignees or [])


def _subject_owner(session: Session, instance: WorkflowInstance, registry: Registry) -> str | None:
    """The current owner of the case's subject (None: it has none, or no such subject)."""
    owner_of = registry.subject_owners.get(instance.subject_type or "")
    if owner_of is None or instance.subject_id is None:
        return None
    cache = session.info.get(OWNERS)
    key = (instance.subject_type or "", int(instance.subject_id))
    if cache is not None and key in cache:
        return cache[key]
    owner = owner_of(session, instance.subject_id)
    return str(owner) if owner is not None else None


def require_view(
    session: Session,
    instance: WorkflowInstance | None,
    actor: Actor,
    catalog: Catalog,
    instance_id: int,
) -> WorkflowInstance:
    """Raises:
    NotFound: missing, or not visible to ``actor`` (not revealed as forbidden)."""
    if instance is None or not can_view(session, instance, actor, catalog):
        raise NotFound(
            f"workflow instance {instance_id} does not exist",
            code="instance.not_found",
            params={"id": instance_id},
        )
    return instance


def data_for(
    session: Session, instance: WorkflowInstance, actor: Actor, catalog: Catalog
) -> dict[str, Any]:
    view = catalog.registry.data_views.get(instance.definition)
    if view is None:
        return dict(instance.data or {})
    return view(session, instance, actor)


def record_payload_for(
    session: Session,
    instance: WorkflowInstance,
    record: AuditRecord,
    actor: Actor,
    catalog: Catalog,
) -> dict[str, Any] | None:
    """The payload of one of ``instance``'s audit records as ``actor`` may see it, or None
    when it is hidden. People who do not see everything (sales) get only the payloads of
    their own actions, and a case's data recorded there (the ``data`` of a start record)
    goes through the definition's data view, as the case itself does: a sales user who
    filed a change of credit limit sees the request, not the limit."""
    payload = dict(record.payload or {})
    if catalog.policy.sees_everything(actor) or not payload:
        return payload
    if record.actor != actor.username:
        return None
    view = catalog.registry.data_views.get(instance.definition)
    if view is not None and isinstance(payload.get("data"), dict):
        snapshot = WorkflowInstance(
            id=instance.id,
            definition=instance.definition,
            definition_version=instance.definition_version,
            state=instance.state,
            subject_type=instance.subject_type,
            subject_id=instance.subject_id,
            created_by=instance.created_by,
            data=payload["data"],
        )
        payload["data"] = view(session, snapshot, actor)
    return payload
