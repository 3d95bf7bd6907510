"""Monitoring rules and alert routing replayed on stored data, read only.

Monitoring: every risk event of the last N days goes through the candidate's rules and
the active ones with production's own matching (``MonitoringRule.matches_event``) and
windows (``processor.windows_met``), as of the moment it was received, against the
client as it is now. Each rule that fires counts what it would do; a threshold or
score-drop rule counts one alert per client, as production keeps one open loop.
Re-scoring between the rules is not simulated.

Routing: every open alert is routed by production's ``routing.route`` with the
candidate's and the active settings; the report is the inbox load per person and role
and the alerts past their SLA under each.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Callable, Iterator, Mapping
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.platform.durations import parse_duration
from workflow.records.models import User, WorkflowInstance
from workflow.risk.alerts.model import Alert
from workflow.risk.alerts.routing import MATCH_KEYS, route
from workflow.risk.alerts.sla import STATE_STAGE, due_after
from workflow.risk.clients.model import Client
from workflow.risk.events.model import RiskEvent
from workflow.risk.events.monitoring import MonitoringRule, MonitoringRules
from workflow.risk.events.processor import client_view, event_view, windows_met
from workflow.risk.governance.candidate import settings_document

CHUNK = 500
MAX_LISTED = 200
Progress = Callable[[int, int], None]
ROUTING_KEYS = ("levels", "categories", "sla", "business_hours", "routing", "digest_at")
_CLIENT_COLUMNS = (
    Client.id,
    Client.name,
    Client.industry,
    Client.region,
    Client.tags,
    Client.rating,
    Client.risk_score,
    Client.status,
    Client.owner,
)


def _clients(session: Session, ids: set[int]) -> dict[int, Client]:
    """Detached copies of the clients holding only what rules and routing read."""
    rows = session.execute(select(*_CLIENT_COLUMNS).where(Client.id.in_(sorted(ids)))).all()
    return {row.id: Client(**row._asdict()) for row in rows}


def _event_chunks(session: Session, since: datetime, now: datetime) -> Iterator[list[RiskEvent]]:
    columns = [c for c in RiskEvent.__table__.columns if c.key != "outcome"]
    after = 0
    while True:
        rows = session.execute(
            select(*columns)
            .where(
                RiskEvent.occurred_at > since, RiskEvent.occurred_at <= now, RiskEvent.id > after
            )
            .order_by(RiskEvent.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        yield [RiskEvent(**row._asdict()) for row in rows]
        after = rows[-1].id


class _Firings:
    """What one rule file would have done over the period."""

    def __init__(self, rules: MonitoringRules) -> None:
        self.rules = rules
        self.by: dict[str, Counter[str]] = {k: Counter() for k in ("level", "category", "rule")}
        self.alerts = self.tags = self.rescores = 0
        self.errors: Counter[str] = Counter()
        self._window_alerts: set[tuple[str, int]] = set()

    def fire(
        self, session: Session, event: RiskEvent, client: Client, views: dict[str, Any]
    ) -> list[str]:
        """The ids of the rules that fire on ``event``.

        Raises:
            MonitoringRulesError: a condition fails on the event.
        """
        at = event.received_at
        fired = [
            rule
            for rule in self.rules.rules
            if rule.matches_event(views["event"], views["client"])
            and windows_met(session, rule, event, client, at)
        ]
        for rule in fired:
            self._count(rule, client.id)
        return [rule.id for rule in fired]

    def _count(self, rule: MonitoringRule, client_id: int) -> None:
        self.by["rule"][rule.id] += 1
        self.tags += rule.tag is not None
        self.rescores += rule.rescore
        if rule.alert is None:
            return
        if rule.threshold is not None or rule.score_drop is not None:
            if (rule.id, client_id) in self._window_alerts:
                return  # the loop this rule opened on the client is still open
            self._window_alerts.add((rule.id, client_id))
        self.alerts += 1
        self.by["level"][rule.alert.level] += 1
        self.by["category"][rule.alert.category] += 1

    def report(self) -> dict[str, Any]:
        return {
            "rules": f"{self.rules.name}@{self.rules.version}:{self.rules.content_hash[:12]}",
            "alerts": self.alerts,
            "tags": self.tags,
            "rescores": self.rescores,
            "by_level": dict(sorted(self.by["level"].items())),
            "by_category": dict(sorted(self.by["category"].items())),
            "by_rule": dict(sorted(self.by["rule"].items())),
            "errors": dict(self.errors),
        }


def replay_monitoring(
    session: Session,
    candidate: MonitoringRules,
    active: MonitoringRules,
    now: datetime,
    days: int,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The rules that would have fired on the events of the last ``days`` days.

    Raises:
        ValueError: a candidate condition fails on a stored event (the event named).
    """
    since = now - timedelta(days=days)
    total = session.execute(
        select(func.count())
        .select_from(RiskEvent)
        .where(RiskEvent.occurred_at > since, RiskEvent.occurred_at <= now)
    ).scalar_one()
    sides = {"active": _Firings(active), "candidate": _Firings(candidate)}
    differences: list[dict[str, Any]] = []
    differing = done = 0
    for events in _event_chunks(session, since, now):
        clients = _clients(session, {e.client_id for e in events})
        for event in events:
            client = clients.get(event.client_id)
            if client is None:
                continue
            views = {
                "event": event_view(event),
                "client": client_view(session, client, event.received_at),
            }
            try:
                before = sides["active"].fire(session, event, client, views)
            except ValueError as exc:  # production records an incident and goes on
                sides["active"].errors[type(exc).__name__] += 1
                before = []
            try:
                after = sides["candidate"].fire(session, event, client, views)
            except ValueError as exc:
                raise ValueError(f"the candidate fails on risk event {event.id}: {exc}") from exc
            if before != after:
                differing += 1
                if len(differences) < MAX_LISTED:
                    differences.append(
                        {
                            "event_id": event.id,
                            "client_id": event.client_id,
                            "type": event.type,
                            "active": before,
                            "candidate": after,
                        }
                    )
        done += len(events)
        if progress is not None:
            progress(done, total)
    return {
        "days": days,
        "since": since.isoformat() + "Z",
        "events": total,
        "active": sides["active"].report(),
        "candidate": sides["candidate"].report(),
        "events_differing": differing,
        "differences": differences,
    }


def parse_routing(content: bytes, active: Mapping[str, Any]) -> dict[str, Any]:
    """The candidate's routing, SLA and level settings (the ``settings`` of
    ``alert_remediation.yaml``, bare or under ``settings:``) over the active ones.

    Raises:
        ValueError: not YAML, or a key or value production would refuse (key named).
    """
    document = settings_document(content)
    if not isinstance(document, Mapping) or not document:
        raise ValueError("(document): must be a mapping of " + ", ".join(ROUTING_KEYS))
    for key in document:
        if key not in ROUTING_KEYS:
            raise ValueError(f"{key}: unknown key; allowed here: {', '.join(ROUTING_KEYS)}")
    settings = {**active, **document}
    levels = settings.get("levels") or []
    for level, sla in (settings.get("sla") or {}).items():
        if level not in levels or not isinstance(sla, Mapping):
            raise ValueError(f"sla.{level}: must be one of the levels ({levels}) with a mapping")
        for stage in ("respond", "rectify", "repeat"):
            if stage in sla:
                try:
                    parse_duration(sla[stage])
                except ValueError as exc:
                    raise ValueError(f"sla.{level}.{stage}: {exc}") from exc
    routing = settings.get("routing") or {}
    if not isinstance(routing, Mapping):
        raise ValueError("routing: must be a mapping")
    for index, rule in enumerate(routing.get("rules") or []):
        when = rule.get("when") if isinstance(rule, Mapping) else None
        if not isinstance(when, Mapping):
            raise ValueError(f"routing.rules[{index}].when: must be a mapping")
        for key in when:
            if key not in MATCH_KEYS:
                raise ValueError(
                    f"routing.rules[{index}].when.{key}: unknown; use {', '.join(MATCH_KEYS)}"
                )
    return settings


def replay_routing(
    session: Session,
    candidate: Mapping[str, Any],
    active: Mapping[str, Any],
    now: datetime,
    timezone: str,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """The owners of every open alert under both settings: load per person and role."""
    rows = session.execute(
        select(
            Alert.id,
            Alert.client_id,
            Alert.level,
            Alert.category,
            WorkflowInstance.state,
            WorkflowInstance.state_entered_at,
        )
        .join(WorkflowInstance, WorkflowInstance.id == Alert.instance_id)
        .where(WorkflowInstance.is_open.is_(True))
        .order_by(Alert.id)
    ).all()
    roles_of = {
        u.username: list(u.roles or [])
        for u in session.execute(select(User.username, User.roles, User.active))
        if u.active
    }
    load = {"active": Counter[str](), "candidate": Counter[str]()}
    overdue: Counter[str] = Counter()
    rerouted: list[dict[str, Any]] = []
    moved = 0
    for start in range(0, len(rows), CHUNK):
        chunk = rows[start : start + CHUNK]
        clients = _clients(session, {r.client_id for r in chunk})
        for row in chunk:
            client = clients[row.client_id]
            owners = {}
            for side, settings in (("active", active), ("candidate", candidate)):
                owners[side] = route(
                    session, dict(settings.get("routing") or {}), client, row.level, row.category
                )
                load[side].update(owners[side])
                stage = STATE_STAGE.get(row.state)
                if stage is not None:
                    due = due_after(
                        dict(settings), row.level, stage, row.state_entered_at, timezone=timezone
                    )
                    overdue[side] += due <= now
            if owners["active"] != owners["candidate"]:
                moved += 1
                if len(rerouted) < MAX_LISTED:
                    rerouted.append({"alert_id": row.id, **owners})
        if progress is not None:
            progress(start + len(chunk), len(rows))
    people = sorted(set(load["active"]) | set(load["candidate"]))
    by_role: dict[str, Counter[str]] = {}
    for person in people:
        for role in roles_of.get(person) or ["(inactive)"]:
            counts = by_role.setdefault(role, Counter())
            counts.update({side: load[side][person] for side in load})
    return {
        "open_alerts": len(rows),
        "alerts_rerouted": moved,
        "rerouted": rerouted,
        "per_person": {
            p: {"active": load["active"][p], "candidate": load["candidate"][p]} for p in people
        },
        "per_role": {
            role: {"active": c["active"], "candidate": c["candidate"]}
            for role, c in sorted(by_role.items())
        },
        "past_sla": {"active": overdue["active"], "candidate": overdue["candidate"]},
    }
