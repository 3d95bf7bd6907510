"""Risk alerts (预警): intake, deduplication and the remediation loop they start.

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
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from sqlalchemy import exists, select
from sqlalchemy.orm import Session

from workflow import texts
from workflow.engine import firing as engine
from workflow.engine import runtime
from workflow.errors import Forbidden, Message, ValidationFailed
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.records.outbox import enqueue
from workflow.risk.alerts.client_suspension import suspend_for_alert
from workflow.risk.alerts.model import Alert, AlertOwner
from workflow.risk.alerts.routing import route
from workflow.risk.alerts.sla import arm_stage
from workflow.risk.clients.model import Client
from workflow.risk.clients.sealing import erased_refusal
from workflow.risk.governance.overlay import governed_settings
from workflow.risk.policy import POLICY

log = logging.getLogger(__name__)

DEFINITION = "alert_remediation"
LEVELS = ("yellow", "red", "black")
CATEGORIES = (
    "business_change",
    "negative_news",
    "litigation",
    "dishonest_debtor",
    "payment_overdue",
    "abnormal_operation",
    "watchlist_hit",
    "other",
)
# Who may raise an alert through the API.
RAISERS = frozenset({"risk_officer", "manager", "system"})


@dataclass(frozen=True)
class Raised:
    alert: Alert
    instance: WorkflowInstance
    created: bool


def config(settings: Mapping[str, Any], name: str, default: Any = None) -> Any:
    """A setting from the engine's settings, else the environment (deployment secrets)."""
    value = settings.get(name)
    if value in (None, ""):
        value = os.environ.get(name) or default
    return value


def definition_settings(session: Session) -> dict[str, Any]:
    """The definition's settings with the active ``alert_routing`` version on top."""
    return governed_settings(
        session, "alert_routing", runtime.of(session).catalog.get(DEFINITION).settings
    )


def find_alert(session: Session, source: str, external_id: str) -> Alert | None:
    return session.execute(
        select(Alert).where(Alert.source == source, Alert.external_id == external_id)
    ).scalar_one_or_none()


def authorize_raise(actor: Actor) -> None:
    """Raises:
    Forbidden: the actor may not raise alerts."""
    if not actor.has_any(RAISERS):
        raise Forbidden(
            "raising an alert needs one of the roles manager, risk_officer, system",
            rule="role",
            code="role.required",
            params={"roles": sorted(RAISERS)},
        )


def raise_alert(
    session: Session, actor: Actor, fields: dict[str, Any], *, request_id: str | None = None
) -> Raised:
    """Record an alert and start its loop, or return the loop already started for it.

    Raises:
        Forbidden: the actor may not raise alerts.
        ValidationFailed: unknown client, level or category.
        Conflict: the client was erased (PIPL).
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
        raise ValidationFailed(
            "the alert names an unknown client",
            errors={
                "client_id": [
                    f"No client {fields['client_id']}; use an id from GET /api/v1/clients."
                ]
            },
        )
    if client.erased_at is not None:
        raise erased_refusal(client.id)
    now = clock.now()
    alert = Alert(
        client_id=client.id,
        level=fields["level"],
        category=fields["category"],
        title=fields["title"],
        details=fields.get("details") or "",
        source=source,
        external_id=external_id,
        raised_by=actor.username,
        breaches=0,
        created_at=now,
    )
    session.add(alert)
    # Flushed first: a concurrent intake of the same alert waits here on the unique
    # key and fails; the caller's transaction retry then finds this alert.
    session.flush()
    settings = definition_settings(session)
    owners = route(session, settings.get("routing") or {}, client, alert.level, alert.category)
    instance = engine.start(
        session,
        DEFINITION,
        actor,
        subject_type="client",
        subject_id=client.id,
        assignees=owners,
        request_id=request_id,
        data={
            "alert_id": alert.id,
            "level": alert.level,
            "category": alert.category,
            "title": alert.title,
            "source": source,
            "external_id": external_id,
            "reopens": 0,
            "breaches": 0,
        },
    )
    alert.instance_id = instance.id
    session.add_all(AlertOwner(alert_id=alert.id, username=u) for u in owners)
    instance.sla_due_at = arm_stage(session, instance, settings, "respond", now)
    if alert.level == "black":
        suspend_for_alert(session, client, instance, actor)
    enqueue(
        session,
        "notify",
        {
            "event": "alert_raised",
            "users": owners,
            "instance_id": instance.id,
            **texts.notification(
                "alert.raised",
                level=alert.level,
                title=alert.title,
                client=client.name,
                category=alert.category,
                details=alert.details,
            ),
        },
        instance_id=instance.id,
    )
    log.info(
        "alert %s raised on client %s (level %s, instance %s)",
        alert.id,
        client.id,
        alert.level,
        instance.id,
    )
    return Raised(alert, instance, created=True)


def _instance(session: Session, alert: Alert) -> WorkflowInstance:
    instance = session.get(WorkflowInstance, alert.instance_id)
    assert instance is not None, "an alert always has its instance (same transaction)"
    return instance


def _validate(fields: dict[str, Any]) -> None:
    errors: dict[str, list[str]] = {}
    if fields.get("level") not in LEVELS:
        errors["level"] = [
            Message("choice.one_of", f"Use one of {', '.join(LEVELS)}.", choices=list(LEVELS))
        ]
    if fields.get("category") not in CATEGORIES:
        errors["category"] = [
            Message(
                "choice.one_of", f"Use one of {', '.join(CATEGORIES)}.", choices=list(CATEGORIES)
            )
        ]
    if not str(fields.get("title") or "").strip():
        errors["title"] = [Message("alert.title_required", "A title is required.")]
    if not isinstance(fields.get("client_id"), int):
        errors["client_id"] = [Message("alert.client_required", "A client id is required.")]
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
            .where(AlertOwner.alert_id.in_(alert_ids))
            .order_by(AlertOwner.username)
        ):
            found[alert_id].append(username)
    return found


def list_alerts(
    session: Session,
    actor: Actor,
    *,
    level: str | None = None,
    state: str | None = None,
    client_id: int | None = None,
    owner: str | None = None,
    breached: bool | None = None,
    limit: int = 50,
    before_id: int | None = None,
) -> tuple[list[tuple[Alert, WorkflowInstance]], bool]:
    """Alerts visible to ``actor``, newest first; returns (page, more).

    ``breached`` means an SLA of the alert was breached at least once. People who do
    not see every case (sales) see the alerts on the clients they own now.
    """
    stmt = select(Alert, WorkflowInstance).join(
        WorkflowInstance, WorkflowInstance.id == Alert.instance_id
    )
    if level:
        stmt = stmt.where(Alert.level == level)
    if state:
        stmt = stmt.where(WorkflowInstance.state == state)
    if client_id is not None:
        stmt = stmt.where(Alert.client_id == client_id)
    if owner:
        stmt = stmt.where(
            exists().where(AlertOwner.alert_id == Alert.id, AlertOwner.username == owner)
        )
    if breached is not None:
        stmt = stmt.where(Alert.breaches > 0 if breached else Alert.breaches == 0)
    if not POLICY.sees_everything(actor):
        # as every case of a client (workflow.engine.visibility): its owner now sees it
        stmt = stmt.where(
            exists().where(Client.id == Alert.client_id, Client.owner == actor.username)
        )
    if before_id is not None:
        stmt = stmt.where(Alert.id < before_id)
    rows = [
        (a, i) for a, i in session.execute(stmt.order_by(Alert.id.desc()).limit(limit + 1)).all()
    ]
    return rows[:limit], len(rows) > limit
