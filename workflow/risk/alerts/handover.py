"""Alerts following their client to a new owner (called by the client services, which the
rest of the alerts package builds on: this module imports none of them)."""

from __future__ import annotations

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.records.models import WorkflowInstance
from workflow.risk.alerts.model import Alert, AlertOwner


def hand_over_alerts(session: Session, client_id: int, before: str, after: str) -> None:
    """The open alerts on a client handed to a new owner: the previous owner's place among
    their owners (listed, filtered, sent the digest) goes to the new owner."""
    open_alerts = list(
        session.execute(
            select(Alert.id)
            .join(WorkflowInstance, WorkflowInstance.id == Alert.instance_id)
            .where(Alert.client_id == client_id, WorkflowInstance.is_open.is_(True))
        ).scalars()
    )
    if not open_alerts:
        return
    rows = list(
        session.execute(
            select(AlertOwner).where(
                AlertOwner.alert_id.in_(open_alerts), AlertOwner.username.in_([before, after])
            )
        ).scalars()
    )
    owned_by = {(row.alert_id, row.username): row for row in rows}
    for alert_id in open_alerts:
        previous = owned_by.get((alert_id, before))
        if previous is None:
            continue
        session.delete(previous)
        if (alert_id, after) not in owned_by:
            session.add(AlertOwner(alert_id=alert_id, username=after))
    session.flush()
