"""Monitoring (风险监控): each stored risk event run once through the monitoring rules.

An event is claimed with a conditional update of its empty ``outcome`` (safe on SQLite
and PostgreSQL alike: a second worker waits for the row and then finds it claimed), in
the transaction that does what its rules say and writes the outcome, so a redelivered
message or a second sweep never acts twice and a crash leaves it unclaimed. Each rule
runs in a savepoint: one that fails to evaluate or act is rolled back, recorded as an
incident and in the client's audit stream, and the other rules still act. Events of a
scoring type, and events a rule re-scores, re-rate the client
(``workflow.risk.events.rerating``); rules on a score drop run after that.
"""

from __future__ import annotations

import logging
import traceback
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workflow.engine import runtime
from workflow.engine.context import TaskContext
from workflow.engine.registry import Registry
from workflow.platform import clock
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import Incident, WorkflowInstance
from workflow.risk.alerts.intake import raise_alert
from workflow.risk.alerts.model import Alert
from workflow.risk.clients.model import Client, client_stream
from workflow.risk.events.intake import MONITOR_TASK
from workflow.risk.events.model import ClientTag, RatingRecord, RiskEvent
from workflow.risk.events.monitoring import MonitoringRule, MonitoringRules, monitoring_rules
from workflow.risk.events.rerating import FACT_EVENT_TYPES, rerate

registry = Registry()

log = logging.getLogger(__name__)

MONITOR_ACTOR = Actor.system("monitoring")
ALERT_SOURCE = "monitoring"
SWEEP_JOB = "monitor_events_sweep"
# Rows younger than this are left to the message their intake enqueued.
SWEEP_GRACE = timedelta(seconds=30)
SWEEP_BATCH = 500
_CLAIMED = {"status": "processing"}


def current_tags(session: Session, client_id: int, now: datetime) -> list[str]:
    """The client's system risk tags in force (not expired)."""
    return sorted(
        set(
            session.execute(
                select(ClientTag.tag).where(
                    ClientTag.client_id == client_id,
                    (ClientTag.expires_at.is_(None)) | (ClientTag.expires_at > now),
                )
            ).scalars()
        )
    )


def add_tag(
    session: Session,
    client_id: int,
    tag: str,
    *,
    source: str,
    event_id: int | None,
    expires_at: datetime | None,
    now: datetime,
) -> ClientTag:
    """Add a system tag, or extend the one in force (never shortening it)."""
    current = session.execute(
        select(ClientTag)
        .where(
            ClientTag.client_id == client_id,
            ClientTag.tag == tag,
            (ClientTag.expires_at.is_(None)) | (ClientTag.expires_at > now),
        )
        .order_by(ClientTag.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    if current is not None:
        if current.expires_at is not None and (
            expires_at is None or expires_at > current.expires_at
        ):
            current.expires_at = expires_at
        return current
    row = ClientTag(
        client_id=client_id,
        tag=tag,
        source=source[:96],
        event_id=event_id,
        since=now,
        expires_at=expires_at,
    )
    session.add(row)
    session.flush()
    return row


def event_view(event: RiskEvent) -> dict[str, Any]:
    return {
        "id": event.id,
        "type": event.type,
        "title": event.title,
        "details": event.details or "",
        "keywords": list(event.keywords or []),
        "source": event.source,
        "data": dict(event.data or {}),
    }


def client_view(session: Session, client: Client, now: datetime) -> dict[str, Any]:
    return {
        "id": client.id,
        "name": client.name,
        "industry": client.industry or "",
        "region": client.region or "",
        "tags": sorted({*(client.tags or []), *current_tags(session, client.id, now)}),
        "rating": client.rating or "",
        "risk_score": float(client.risk_score or 0),
        "status": client.status,
    }


def _threshold_met(session: Session, rule: MonitoringRule, event: RiskEvent, now: datetime) -> bool:
    threshold = rule.threshold
    if threshold is None:
        return True
    since = now - timedelta(days=threshold.days)
    count = session.execute(
        select(func.count())
        .select_from(RiskEvent)
        .where(
            RiskEvent.client_id == event.client_id,
            RiskEvent.type == threshold.type,
            RiskEvent.occurred_at > since,
            RiskEvent.occurred_at <= now,
        )
    ).scalar_one()
    return int(count) >= threshold.count


def _score_dropped(session: Session, rule: MonitoringRule, client: Client, now: datetime) -> bool:
    drop = rule.score_drop
    if drop is None:
        return True
    if client.risk_score is None:
        return False
    highest = session.execute(
        select(func.max(RatingRecord.risk_score)).where(
            RatingRecord.client_id == client.id,
            RatingRecord.outcome == "applied",
            RatingRecord.rated_at >= now - timedelta(days=drop.days),
        )
    ).scalar_one()
    return highest is not None and float(highest) - float(client.risk_score) >= drop.points


def windows_met(
    session: Session, rule: MonitoringRule, event: RiskEvent, client: Client, now: datetime
) -> bool:
    """The rule's threshold and score-drop windows hold at ``now`` (read only; a rule
    without windows holds)."""
    return _threshold_met(session, rule, event, now) and _score_dropped(session, rule, client, now)


def _open_window_alert(session: Session, rule: MonitoringRule, client_id: int) -> int | None:
    """The open alert a threshold or score-drop rule already raised on the client."""
    if rule.alert is None or (rule.threshold is None and rule.score_drop is None):
        return None
    return session.execute(
        select(Alert.id)
        .join(WorkflowInstance, WorkflowInstance.id == Alert.instance_id)
        .where(
            Alert.client_id == client_id,
            Alert.source == ALERT_SOURCE,
            Alert.external_id.startswith(f"{rule.id}:", autoescape=True),
            WorkflowInstance.is_open.is_(True),
        )
        .limit(1)
    ).scalar_one_or_none()


def _act(
    session: Session, rule: MonitoringRule, event: RiskEvent, client: Client, now: datetime
) -> list[dict[str, Any]]:
    actions: list[dict[str, Any]] = []
    open_loop = _open_window_alert(session, rule, client.id)
    if open_loop is not None:
        # a window rule stays true for every later event in the window: one open loop
        # is enough until it is closed
        actions.append({"action": "alert", "alert_id": open_loop, "created": False})
    elif rule.alert is not None:
        raised = raise_alert(
            session,
            MONITOR_ACTOR,
            {
                "client_id": client.id,
                "level": rule.alert.level,
                "category": rule.alert.category,
                "title": f"{rule.title['zh-CN']}：{event.title}"[:200],
                "details": event.details or "",
                "source": ALERT_SOURCE,
                # one alert per rule and event: re-processing raises nothing new
                "external_id": f"{rule.id}:{event.id}"[:128],
            },
        )
        actions.append(
            {
                "action": "alert",
                "alert_id": raised.alert.id,
                "instance_id": raised.instance.id,
                "level": rule.alert.level,
                "created": raised.created,
            }
        )
    if rule.tag is not None:
        expires = now + rule.tag.expires_after if rule.tag.expires_after else None
        tag = add_tag(
            session,
            client.id,
            rule.tag.tag,
            source=f"rule:{rule.id}",
            event_id=event.id,
            expires_at=expires,
            now=now,
        )
        actions.append({"action": "tag", "tag": tag.tag, "tag_id": tag.id})
    if rule.rescore:
        actions.append({"action": "rescore"})
    return actions


def _fail(
    session: Session,
    event: RiskEvent,
    what: str,
    exc: Exception,
    outbox_id: int | None,
) -> dict[str, Any]:
    """A rule (or the re-scoring) that failed on this event: an incident and an audit record."""
    error = "".join(traceback.format_exception_only(exc)).strip()
    session.add(
        Incident(
            instance_id=None,
            outbox_id=outbox_id,
            task=f"monitoring:{what}"[:64],
            error=f"event {event.id}: {error}"[:4000],
            attempts=1,
            created_at=clock.now(),
        )
    )
    audit.record_event(
        session,
        client_stream(event.client_id),
        "monitoring.failed",
        MONITOR_ACTOR,
        subject=client_stream(event.client_id),
        payload={"event_id": event.id, "rule": what, "error": error[:500]},
    )
    log.error("monitoring rule %s failed on event %s: %s", what, event.id, error)
    return {"rule": what, "error": error[:500]}


def claim(session: Session, event_id: int) -> RiskEvent | None:
    """The event, claimed for this transaction; None when it is gone or already handled."""
    result = session.execute(
        update(RiskEvent)
        .where(RiskEvent.id == event_id, RiskEvent.outcome.is_(None))
        .values(outcome=_CLAIMED)
        .execution_options(synchronize_session=False)
    )
    if int(getattr(result, "rowcount", 0) or 0) != 1:
        return None
    return session.execute(
        select(RiskEvent).where(RiskEvent.id == event_id).execution_options(populate_existing=True)
    ).scalar_one()


def process_event(
    session: Session,
    event_id: int,
    *,
    rules: MonitoringRules | None = None,
    outbox_id: int | None = None,
) -> dict[str, Any] | None:
    """Run the monitoring rules on one event once; returns its outcome (None: it was
    handled already). The caller commits."""
    event = claim(session, event_id)
    if event is None:
        return None
    now = clock.now()
    rules = rules or monitoring_rules(runtime.of(session).settings)
    outcome: dict[str, Any] = {
        "rule_set": f"{rules.name}@{rules.version}",
        "fired": [],
        "errors": [],
    }
    client = session.get(Client, event.client_id)
    if client is None:
        outcome["errors"].append({"rule": "(client)", "error": "the client no longer exists"})
        event.outcome = outcome
        return outcome
    rescore = event.type in FACT_EVENT_TYPES
    views = {"now": now, "event": event_view(event), "client": client_view(session, client, now)}
    for rule in (r for r in rules.rules if r.score_drop is None):
        fired = _run_rule(session, rule, event, client, views, outbox_id, outcome)
        rescore = rescore or (fired and rule.rescore)
    if rescore:
        try:
            with session.begin_nested():
                record = rerate(session, client.id, trigger=f"event:{event.id}", now=now)
            if record is not None:
                outcome["rating"] = {
                    "record_id": record.id,
                    "rating": record.rating,
                    "outcome": record.outcome,
                }
        except Exception as exc:  # noqa: BLE001 - any failure is an incident, not a lost event
            outcome["errors"].append(_fail(session, event, "(rescore)", exc, outbox_id))
        views["client"] = client_view(session, client, now)
    for rule in (r for r in rules.rules if r.score_drop is not None):
        _run_rule(session, rule, event, client, views, outbox_id, outcome)
    outcome["processed_at"] = clock.isoformat(clock.now())
    event.outcome = outcome
    return outcome


def _run_rule(
    session: Session,
    rule: MonitoringRule,
    event: RiskEvent,
    client: Client,
    views: dict[str, Any],
    outbox_id: int | None,
    outcome: dict[str, Any],
) -> bool:
    """One rule on one event; ``views`` holds the event and client as the rules read them
    (the client's again after a rule changed its tags)."""
    try:
        # matching in memory first: most rules are about other event types, and they
        # cost no round trip
        if not rule.matches_event(views["event"], views["client"]):
            return False
        with session.begin_nested():
            if not windows_met(session, rule, event, client, views["now"]):
                return False
            actions = _act(session, rule, event, client, views["now"])
    except Exception as exc:  # noqa: BLE001 - one failing rule must not stop the others
        outcome["errors"].append(_fail(session, event, rule.id, exc, outbox_id))
        return False
    outcome["fired"].append({"rule": rule.id, "actions": actions})
    if rule.tag is not None:
        views["client"] = client_view(session, client, views["now"])
    return True


@registry.task(MONITOR_TASK)
def monitor_events(ctx: TaskContext) -> None:
    """Run the monitoring rules on the events an intake stored (each at most once)."""
    rules = monitoring_rules(ctx.settings)
    for event_id in ctx.args.get("event_ids") or []:
        process_event(ctx.session, int(event_id), rules=rules, outbox_id=ctx.outbox_id)


@registry.job(SWEEP_JOB, "* * * * *")
def sweep(session: Session, now: datetime, args: dict[str, Any]) -> None:
    """Every minute: events nobody has handled yet (rows inserted by any code, a message
    that was lost) go through the monitoring rules."""
    ids = list(
        session.execute(
            select(RiskEvent.id)
            .where(RiskEvent.outcome.is_(None), RiskEvent.received_at <= now - SWEEP_GRACE)
            .order_by(RiskEvent.id)
            .limit(SWEEP_BATCH)
        ).scalars()
    )
    if not ids:
        return
    rules = monitoring_rules(runtime.of(session).settings)
    handled = sum(1 for i in ids if process_event(session, i, rules=rules) is not None)
    log.info("monitoring sweep handled %d of %d unhandled events", handled, len(ids))
