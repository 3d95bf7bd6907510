"""Re-rating (动态评级): every change of a scoring fact re-runs the active risk rule set.

The facts are the client record's, what the providers said at admission (the stored
screening's checks) and what risk events say since (litigation and negative-news counts,
payment overdue or default, dishonest debtor, certain watch-list hits), the worse value
of each winning. A worse rating, risk level or lower credit limit applies at once
(audited in the client's stream, the owner and the risk team notified, the stored
screening report brought up to date); a better rating or a higher limit becomes a
``sensitive_edit`` change request started by the system, which two different people
approve. Every evaluation appends a :class:`RatingRecord`; the latest ``applied`` one
always equals the client's current rating, score, level and limit.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import texts
from workflow.engine import firing as engine
from workflow.engine import runtime
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.records.outbox import enqueue
from workflow.risk.clients.model import RATINGS, RISK_LEVELS, SCREENING_FIELDS, Client, get_client
from workflow.risk.clients.service import apply_changes
from workflow.risk.events.model import RatingRecord, RiskEvent
from workflow.risk.screening.providers import ProviderResult
from workflow.risk.screening.rules import RatingResult, RuleSet
from workflow.risk.screening.screen import Screening, merge_facts, record_facts, rule_set

log = logging.getLogger(__name__)

RERATING_ACTOR = Actor.system("rerating")
# Only admitted clients have a rating to move; others are rated at their next screening.
RATED_STATUSES = ("active", "suspended")
# Event types that carry a scoring fact: one of them always re-rates its client.
FACT_EVENT_TYPES = frozenset(
    {"litigation", "negative_news", "payment_overdue", "dishonest_debtor", "watchlist_hit"}
)
RATING_FIELDS = ("rating", "risk_level", "credit_limit")
NEWS_WINDOW = timedelta(days=365)
PAYMENT_WINDOW = timedelta(days=365)
_SENSITIVE_EDIT = "sensitive_edit"


def fact_events(session: Session, client_ids: list[int]) -> dict[int, list[Any]]:
    """The risk events that carry scoring facts of ``client_ids`` (one query), by client:
    rows of ``(type, occurred_at, received_at, data)``."""
    found: dict[int, list[Any]] = {client_id: [] for client_id in client_ids}
    for row in session.execute(
        select(
            RiskEvent.client_id,
            RiskEvent.type,
            RiskEvent.occurred_at,
            RiskEvent.received_at,
            RiskEvent.data,
        )
        .where(RiskEvent.client_id.in_(client_ids), RiskEvent.type.in_(sorted(FACT_EVENT_TYPES)))
        .order_by(RiskEvent.id)
    ):
        found.setdefault(row.client_id, []).append(row)
    return found


def event_facts(
    session: Session, client_id: int, now: datetime, *, events: list[Any] | None = None
) -> ProviderResult:
    """What the client's risk events say, as facts of the rule set (``events``: the rows
    :func:`fact_events` read already, else they are read)."""
    if events is None:
        events = fact_events(session, [client_id])[client_id]
    facts: dict[str, Any] = {}
    litigation = news = 0
    for event in events:
        type_, occurred_at, data = event.type, event.occurred_at, event.data or {}
        if type_ == "litigation":
            litigation += 1
        elif type_ == "negative_news" and occurred_at >= now - NEWS_WINDOW:
            news += 1
        elif type_ == "payment_overdue" and occurred_at >= now - PAYMENT_WINDOW:
            worst = "default" if data.get("severity") == "default" else "overdue"
            if facts.get("payment_history") != "default":
                facts["payment_history"] = worst
        elif type_ == "dishonest_debtor":
            facts["dishonest_debtor"] = True
        elif type_ == "watchlist_hit" and data.get("certainty") == "certain":
            key = "dishonest_debtor" if data.get("list") == "dishonest_debtor" else "blacklisted"
            facts[key] = True
    if litigation:
        facts["litigation_count"] = litigation
    if news:
        facts["negative_news_count"] = news
    return ProviderResult(provider="events", facts=facts)


def admission_checks(client: Client) -> list[ProviderResult]:
    """What each provider said when the client was screened."""
    return [
        ProviderResult(provider=str(c.get("provider")), facts=dict(c.get("facts") or {}))
        for c in (client.screening or {}).get("checks") or []
        if isinstance(c, dict)
    ]


def current_facts(
    session: Session, client: Client, now: datetime, *, events: list[Any] | None = None
) -> dict[str, Any]:
    """The facts the rule set rates ``client`` on now (``events``: as for :func:`event_facts`)."""
    return merge_facts(
        record_facts(client, now),
        [*admission_checks(client), event_facts(session, client.id, now, events=events)],
    )


def rule_set_label(rules: RuleSet) -> str:
    return f"{rules.name}@{rules.version}:{rules.content_hash[:12]}"


def reasons_of(result: RatingResult) -> list[dict[str, Any]]:
    """Why: the hard rules that fired, then the scorecard with the facts it read."""
    return [
        *({"kind": "rule", **r} for r in result.to_dict()["fired_rules"]),
        {
            "kind": "scorecard",
            "decided_by": result.decided_by,
            "contributions": [dict(c) for c in result.contributions],
            "facts": dict(result.facts),
        },
    ]


def snapshot(client: Client) -> dict[str, Any]:
    return {
        "rating": client.rating,
        "risk_score": float(client.risk_score) if client.risk_score is not None else None,
        "risk_level": client.risk_level,
        "credit_limit": float(client.credit_limit) if client.credit_limit is not None else None,
    }


def _worse(field: str, before: Any, after: Any) -> bool:
    if before is None:
        return False
    if field == "rating":
        return RATINGS.index(after) > RATINGS.index(before)
    if field == "risk_level":
        return RISK_LEVELS.index(after) > RISK_LEVELS.index(before)
    return float(after) < float(before)


def compare(before: dict[str, Any], after: dict[str, Any]) -> tuple[list[str], list[str]]:
    """(fields that got worse, fields that got better) among rating, level and limit."""
    worse = [f for f in RATING_FIELDS if before[f] != after[f] and _worse(f, before[f], after[f])]
    better = [f for f in RATING_FIELDS if before[f] != after[f] and f not in worse]
    return worse, better


def _column_value(field: str, value: Any) -> Any:
    return Decimal(str(value)) if field in ("risk_score", "credit_limit") else value


def _append(
    session: Session,
    client_id: int,
    values: dict[str, Any],
    previous: dict[str, Any] | None,
    *,
    reasons: list[Any],
    rule_set_version: str,
    trigger: str,
    outcome: str,
    change_request_id: int | None = None,
    now: datetime,
) -> RatingRecord:
    record = RatingRecord(
        client_id=client_id,
        rating=values["rating"],
        risk_score=Decimal(str(values["risk_score"] or 0)),
        risk_level=values["risk_level"],
        credit_limit=(
            Decimal(str(values["credit_limit"])) if values["credit_limit"] is not None else None
        ),
        previous=previous,
        reasons=reasons,
        rule_set_version=rule_set_version[:64],
        trigger=trigger[:64],
        outcome=outcome,
        change_request_id=change_request_id,
        rated_at=now,
    )
    session.add(record)
    session.flush()
    return record


def record_screening_rating(
    session: Session, client: Client, result: dict[str, Any], rules_label: str, now: datetime
) -> RatingRecord:
    """The admission screening's rating as the first record of the client's history."""
    values = {
        "rating": result["rating"],
        "risk_score": result["score"],
        "risk_level": result["risk_level"],
        "credit_limit": result["credit_limit"],
    }
    reasons = [
        *({"kind": "rule", **r} for r in result.get("fired_rules") or []),
        {
            "kind": "scorecard",
            "decided_by": result.get("decided_by"),
            "contributions": list(result.get("contributions") or []),
        },
    ]
    return _append(
        session,
        client.id,
        values,
        None,
        reasons=reasons,
        rule_set_version=rules_label,
        trigger="screening",
        outcome="applied",
        now=now,
    )


def rerate(
    session: Session,
    client_id: int,
    *,
    trigger: str,
    actor: Actor = RERATING_ACTOR,
    now: datetime | None = None,
) -> RatingRecord | None:
    """Re-run the active rule set on the client's current facts and act on the outcome;
    None when the client has no rating to move (not admitted)."""
    client = get_client(session, client_id, lock=True)
    if client.status not in RATED_STATUSES or client.rating is None:
        return None
    now = now or clock.now()
    rules = rule_set(runtime.of(session).settings)
    result = rules.evaluate(current_facts(session, client, now))
    before = snapshot(client)
    new = {
        "rating": result.rating,
        "risk_score": result.score,
        "risk_level": result.risk_level,
        "credit_limit": float(result.credit_limit),
    }
    worse, better = compare(before, new)
    label = rule_set_label(rules)
    reasons = reasons_of(result)
    record: RatingRecord | None = None
    applied = {f: new[f] for f in worse}
    if worse or (not better and before["risk_score"] != new["risk_score"]):
        applied["risk_score"] = new["risk_score"]
    if applied:
        apply_changes(
            session,
            client,
            {f: _column_value(f, v) for f, v in applied.items()},
            actor,
            "client.rerated",
            trigger=trigger,
            rule_set=label,
        )
        _refresh_report(client, result, trigger, now)
        record = _append(
            session,
            client.id,
            snapshot(client),
            before,
            reasons=reasons,
            rule_set_version=label,
            trigger=trigger,
            outcome="applied",
            now=now,
        )
        if worse:
            _notify(session, client, before, trigger)
    if better or record is None:
        # the better values wait for two approvals; nothing moved: the evaluation is kept
        proposal = _propose(session, client, {f: new[f] for f in better}, new, trigger)
        record = _append(
            session,
            client.id,
            new,
            before,
            reasons=reasons,
            rule_set_version=label,
            trigger=trigger,
            outcome="proposed" if better else "unchanged",
            change_request_id=proposal,
            now=now,
        )
    log.info(
        "client %s re-rated (%s): %s -> %s, %s",
        client.id,
        trigger,
        before["rating"],
        new["rating"],
        record.outcome,
    )
    return record


def _refresh_report(client: Client, result: RatingResult, trigger: str, now: datetime) -> None:
    """The stored screening report shows the rating, score, level and limit in force."""
    old = dict(client.screening or {})
    report = Screening(result=result, checks=list(old.get("checks") or [])).payload()
    report.update(
        {
            "rating": client.rating,
            "score": float(client.risk_score or 0),
            "risk_level": client.risk_level,
            "credit_limit": float(client.credit_limit or 0),
            "facts": dict(result.facts),
            "trigger": trigger,
            "rerated_at": clock.isoformat(now),
        }
    )
    for key in ("instance_id", "at"):
        if key in old:
            report[key] = old[key]
    client.screening = report


def _notify(session: Session, client: Client, before: dict[str, Any], trigger: str) -> None:
    enqueue(
        session,
        "notify",
        {
            "event": "client_rerated",
            "users": [client.owner],
            "roles": ["risk_officer"],
            **texts.notification(
                "client.rerated",
                client=client.name,
                before=before["rating"],
                after=client.rating,
                level=client.risk_level,
                limit=float(client.credit_limit or 0),
                trigger=trigger,
            ),
        },
    )


def open_proposal(session: Session, client_id: int) -> WorkflowInstance | None:
    """An open change request on the client that changes its rating, level or limit."""
    for instance in session.execute(
        select(WorkflowInstance)
        .where(
            WorkflowInstance.definition == _SENSITIVE_EDIT,
            WorkflowInstance.subject_type == "client",
            WorkflowInstance.subject_id == client_id,
            WorkflowInstance.is_open.is_(True),
        )
        .order_by(WorkflowInstance.id)
    ).scalars():
        if set((instance.data or {}).get("changes") or {}) & set(RATING_FIELDS):
            return instance
    return None


def _propose(
    session: Session,
    client: Client,
    changes: dict[str, Any],
    new: dict[str, Any],
    trigger: str,
) -> int | None:
    """A change request (dual approval) for the better values, filed by the system so that
    anyone who may approve can (an open one is kept); None when nothing is better."""
    if not changes:
        return None
    existing = open_proposal(session, client.id)
    if existing is not None:
        return existing.id
    before = snapshot(client)
    reason = (
        f"系统重新评级建议：{before['rating']} → {new['rating']} / "
        f"re-rating proposes {before['rating']} -> {new['rating']} ({trigger})"
    )
    instance = engine.start(
        session,
        _SENSITIVE_EDIT,
        RERATING_ACTOR,
        subject_type="client",
        subject_id=client.id,
        data={
            "client_id": client.id,
            "reason": reason,
            "changes": {f: {"before": before[f], "after": v} for f, v in changes.items()},
            "approvals": [],
            "proposal": {"risk_score": new["risk_score"], "trigger": trigger},
        },
        comment=reason,
    )
    return instance.id


def after_change_request(
    session: Session, client: Client, changed: set[str], instance: WorkflowInstance, actor: Actor
) -> RatingRecord | None:
    """An approved change request: new screening inputs re-rate the client; a new rating,
    level or limit (a re-rating proposal or an override) is recorded in its history."""
    trigger = f"change_request:{instance.id}"
    if changed & set(SCREENING_FIELDS):
        return rerate(session, client.id, trigger=trigger, actor=actor)
    if not changed & set(RATING_FIELDS) or client.rating is None:
        return None
    proposal = (instance.data or {}).get("proposal") or {}
    if "risk_score" in proposal:
        apply_changes(
            session,
            client,
            {"risk_score": Decimal(str(proposal["risk_score"]))},
            actor,
            "client.rerated",
            trigger=trigger,
        )
    now = clock.now()
    if proposal:
        # a re-rating proposal: the rule set's evaluation is now in force
        report = dict(client.screening or {})
        report.update(
            snapshot(client) | {"score": float(client.risk_score or 0), "trigger": trigger}
        )
        report.pop("risk_score", None)
        client.screening = report
    # An override keeps the stored screening as the screening found it; the rating
    # history (and the portrait, which explains the current values by the record that
    # states them) tells that an approved change request set them.
    return _append(
        session,
        client.id,
        snapshot(client),
        None,
        reasons=[{"kind": "change_request", "id": instance.id, "proposal": bool(proposal)}],
        rule_set_version=proposal.get("rule_set", ""),
        trigger=trigger,
        outcome="applied",
        change_request_id=instance.id,
        now=now,
    )


def ratings_of(
    session: Session, client_id: int, *, limit: int = 50, before_id: int | None = None
) -> tuple[list[RatingRecord], bool]:
    """The client's rating history, newest first; returns (page, more)."""
    stmt = select(RatingRecord).where(RatingRecord.client_id == client_id)
    if before_id is not None:
        stmt = stmt.where(RatingRecord.id < before_id)
    rows = list(session.execute(stmt.order_by(RatingRecord.id.desc()).limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit
