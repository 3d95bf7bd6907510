"""Black alerts suspend their client at once; the client gets its former status back
only when every black loop on it is closed or dismissed."""

from __future__ import annotations

import logging

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine.context import FireContext
from workflow.engine.registry import Registry
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.clients.model import Client, client_stream, get_client
from workflow.risk.clients.service import SUSPENDED, suspend_client

registry = Registry()

log = logging.getLogger(__name__)


def suspend_for_alert(
    session: Session, client: Client, instance: WorkflowInstance, actor: Actor
) -> None:
    """Suspend ``client`` for black alert ``instance``, remembering its former status."""
    suspend_client(
        session,
        client,
        actor,
        at=instance.created_at,
        instance_id=instance.id,
        alert_instance=instance.id,
    )


def open_black_loops(session: Session, client_id: int, *, besides: int) -> int:
    rows = session.execute(
        select(WorkflowInstance.id, WorkflowInstance.data).where(
            WorkflowInstance.definition == "alert_remediation",
            WorkflowInstance.subject_type == "client",
            WorkflowInstance.subject_id == client_id,
            WorkflowInstance.is_open.is_(True),
            WorkflowInstance.id != besides,
        )
    )
    return sum(1 for _id, data in rows if (data or {}).get("level") == "black")


@registry.effect("release_client")
def release_client(ctx: FireContext) -> None:
    """On closing a black loop: reinstate the client if no other black loop is open."""
    if ctx.instance.data.get("level") != "black" or ctx.instance.subject_id is None:
        return
    client = get_client(ctx.session, ctx.instance.subject_id, lock=True)
    if client.status != SUSPENDED or client.status_before_suspension is None:
        return
    if open_black_loops(ctx.session, client.id, besides=ctx.instance.id):
        ctx.audit["client_still_suspended"] = True
        return
    if client.blacklisted:
        # Blacklisting (a dual-approved change) also suspends; closing an alert must
        # not undo it. Only a change request that lifts the blacklist may.
        ctx.audit["client_still_suspended"] = "blacklisted"
        return
    before = client.status_before_suspension
    client.status = before
    client.status_before_suspension = None
    client.version += 1
    client.updated_at = ctx.now
    audit.record_event(
        ctx.session,
        client_stream(client.id),
        "client.reinstated",
        ctx.actor,
        subject=f"client:{client.id}",
        instance_id=ctx.instance.id,
        payload={"status": [SUSPENDED, before], "alert_instance": ctx.instance.id},
    )
    ctx.audit["client_reinstated"] = before
