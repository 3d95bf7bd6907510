"""Risk alerts (预警): intake, deduplication and the remediation loop they start (SPEC 4.4).

``raise_alert`` is the one door for the API, the signed webhook and the console:
it deduplicates by ``source`` + ``external_id`` (a unique constraint, so two
concurrent intakes of the same alert create one loop), routes the alert to its
owners, starts an ``alert_remediation`` instance, arms the level's respond SLA,
suspends the client of a black alert and notifies the owners — one transaction.
"""

from __future__ import annotations

import logging
import os
import uuid
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflow.engine import firing as engine
from workflow.engine import runtime
from workflow.errors import Forbidden, ValidationFailed
from workflow.platform import clock
from workflow.platform.db import Base, BigId
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.alerts.client_suspension import suspend_for_alert
from workflow.risk.alerts.routing import route
from workflow.risk.alerts.sla import arm_stage
from workflow.risk.clients.model import Client

log = logging.getLogger(__name__)

DEFINITION = "alert_remediation"
LEVELS = ("yellow", "red", "black")
CATEGORIES = ("business_change", "negative_news", "litigation", "dishonest_debtor",
              "payment_overdue", "other")
# Who may raise an alert through the API (SPEC 4.4: risk officers and the system).
RAISERS = frozenset({"risk_officer", "manager", "system"})


class Alert(Base):
    """One alert and the remediation instance it started (never two for one source id)."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_alerts_client", "client_id", "level"),
        Index("ix_alerts_created", "created_at"),
        Index("ix_alerts_breached_at", "last_breached_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int | None] = mapped_column(BigId, unique=True)
    client_id: Mapped[int] = mapped_column(BigId)
    level: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    raised_by: Mapped[str] = mapped_column(String(96))
    breaches: Mapped[int] = mapped_column(Integer, default=0)
    last_breached_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class AlertOwner(Base):
    """An owner of an alert (routing result): listed, filtered and sent the digest."""

    __tablename__ = "alert_owners"

    alert_id: Mapped[int] = mapped_column(ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True)
    username: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)


@dataclass(frozen=True)
class Raised:
    alert: Alert
    instance: WorkflowInstance
    created: bool


def config(name: str, default: Any = None) -> Any:
    """A setting from the app configuration, else the environment (deployment secrets)."""
    value = runtime.setting(name)
    if value in (None, ""):
        value = os.environ.get(name) or default
    return value


def definition_settings() -> dict[str, Any]:
    return runtime.current().catalog.get(DEFINITION).settings


def find_alert(session: Session, source: str, external_id: str) -> Alert | None:
    return session.execute(
        select(Alert).where(Alert.source == source, Alert.external_id == external_id)
    ).scalar_one_or_none()


def authorize_raise(actor: Actor) -> None:
    """Raises:
        Forbidden: the actor may not raise alerts."""
    if not actor.has_any(RAISERS):
        raise Forbidden("raising an alert needs one of the roles manager, risk_officer, system",
                        rule="role")


def hand_over_alerts(session: Session, client_id: int, before: str, after: str) -> None:
    """The open alerts on a client handed to a new owner: the previous owner's place among
    their owners (listed, filtered, sent the digest) goes to the new owner."""
    open_alerts = list(session.execute(
        select(Alert.id).join(WorkflowInstance, WorkflowInstance.id == Alert.instance_id)
        .where(Alert.client_id == client_id, WorkflowInstance.is_open.is_(True))
    ).scalars())
    if not open_alerts:
        return
    rows = list(session.execute(
        select(AlertOwner).where(AlertOwner.alert_id.in_(open_alerts),
                                 AlertOwner.username.in_([before, after]))
    ).scalars())
    owned_by = {(row.alert_id, row.username): row for row in rows}
    for alert_id in open_alerts:
        previous = owned_by.get((alert_id, before))
        if previous is None:
            continue
        session.delete(previous)
        if (alert_id, after) not in owned_by:
            session.add(AlertOwner(alert_id=alert_id, username=after))
    session.flush()


def raise_alert(session: Session, actor: Actor, fields: dict[str, Any], *,
                request_id: str | None = None) -> Raised:
    """Record an alert and start its loop, or return the loop already started for it.

    Raises:
        Forbidden: the actor may not raise alerts.
        ValidationFailed: unknown client, level or category.
    """
    authorize_raise(actor)
    source = fields.get("source") or "manual"
    external_id = fields.get("external_id") or uuid.uuid4().hex
    existing = find_alert(session, source, external_id)
    if existing is not None:
        return Raised(existing, _instance(session, existing), created=False)
    _validate(fields)
    client = session.get(Client, fields["client_id"])
    if client is None:
        raise ValidationFailed("the alert names an unknown client",
                               errors={"client_id": [f"No client {fields['client_id']}; use an id "
                                                     "from GET /api/v1/clients."]})
    now = clock.now()
    alert = Alert(client_id=client.id, level=fields["level"], category=fields["category"],
                  title=fields["title"], details=fields.get("details") or "", source=source,
                  external_id=external_id, raised_by=actor.username, breaches=0, created_at=now)
    session.add(alert)
    # Flushed first: a concurrent intake of the same alert waits here on the unique
    # key and fails; the caller's transaction retry then finds this alert.
    session.flush()
    settings = definition_settings()
    owners = route(session, settings.get("routing") or {}, client, alert.level, alert.category)
    instance = engine.start(
        session, DEFINITION, actor, subject_type="client", subject_id=client.id,
        assignees=owners, request_id=request_id,
        data={"alert_id": alert.id, "level": alert.level, "category": alert.category,
              "title": alert.title, "source": source, "external_id": external_id,
              "reopens": 0, "breaches": 0},
    )
    alert.instance_id = instance.id
    session.add_all(AlertOwner(alert_id=alert.id, username=u) for u in owners)
    instance.sla_due_at = arm_stage(session, instance, settings, "respond", now)
    if alert.level == "black":
        suspend_for_alert(session, client, instance, actor)
    from workflow.records.outbox import enqueue

    enqueue(session, "notify", {
        "event": "alert_raised", "users": owners, "instance_id": instance.id,
        "title": f"[{alert.level}] {alert.title}"[:255],
        "body": f"{client.name}: {alert.category}. {alert.details}"[:4000],
    }, instance_id=instance.id)
    log.info("alert %s raised on client %s (level %s, instance %s)",
             alert.id, client.id, alert.level, instance.id)
    return Raised(alert, instance, created=True)


def _instance(session: Session, alert: Alert) -> WorkflowInstance:
    instance = session.get(WorkflowInstance, alert.instance_id)
    assert instance is not None, "an alert always has its instance (same transaction)"
    return instance


def _validate(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if fields.get("level") not in LEVELS:
        errors["level"] = [f"Use one of {', '.join(LEVELS)}."]
    if fields.get("category") not in CATEGORIES:
        errors["category"] = [f"Use one of {', '.join(CATEGORIES)}."]
    if not str(fields.get("title") or "").strip():
        errors["title"] = ["A title is required."]
    if not isinstance(fields.get("client_id"), int):
        errors["client_id"] = ["A client id is required."]
    if errors:
        raise ValidationFailed("the alert is invalid", errors=errors)


def alerts_for(session: Session, instance_ids: list[int]) -> dict[int, Alert]:
    if not instance_ids:
        return {}
    rows = session.execute(select(Alert).where(Alert.instance_id.in_(instance_ids))).scalars()
    return {a.instance_id: a for a in rows if a.instance_id is not None}


def owners_of(session: Session, alert_ids: list[int]) -> dict[int, list[str]]:
    found: dict[int, list[str]] = {a: [] for a in alert_ids}
    if alert_ids:
        for alert_id, username in session.execute(
            select(AlertOwner.alert_id, AlertOwner.username)
            .where(AlertOwner.alert_id.in_(alert_ids)).order_by(AlertOwner.username)
        ):
            found[alert_id].append(username)
    return found


def list_alerts(session: Session, actor: Actor, *, level: str | None = None,
                state: str | None = None, client_id: int | None = None,
                owner: str | None = None, breached: bool | None = None, limit: int = 50,
                before_id: int | None = None) -> tuple[list[tuple[Alert, WorkflowInstance]], bool]:
    """Alerts visible to ``actor``, newest first; returns (page, more).

    ``breached`` means an SLA of the alert was breached at least once. People who do
    not see every case (sales) see the alerts on the clients they own now.
    """
    from sqlalchemy import exists

    from workflow.engine.visibility import SEE_ALL

    stmt = select(Alert, WorkflowInstance).join(WorkflowInstance, WorkflowInstance.id == Alert.instance_id)
    if level:
        stmt = stmt.where(Alert.level == level)
    if state:
        stmt = stmt.where(WorkflowInstance.state == state)
    if client_id is not None:
        stmt = stmt.where(Alert.client_id == client_id)
    if owner:
        stmt = stmt.where(exists().where(AlertOwner.alert_id == Alert.id, AlertOwner.username == owner))
    if breached is not None:
        stmt = stmt.where(Alert.breaches > 0 if breached else Alert.breaches == 0)
    if not (actor.has_any(SEE_ALL) or actor.is_system):
        # as every case of a client (workflow.engine.visibility): its owner now sees it
        stmt = stmt.where(exists().where(Client.id == Alert.client_id, Client.owner == actor.username))
    if before_id is not None:
        stmt = stmt.where(Alert.id < before_id)
    rows = [(a, i) for a, i in session.execute(stmt.order_by(Alert.id.desc()).limit(limit + 1)).all()]
    return rows[:limit], len(rows) > limit
