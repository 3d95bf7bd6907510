"""The client portrait (客户画像) and the per-client risk report: one read of everything
the living risk picture holds about a client, masked by the reader's role.

The console's tabs (概览, 工商背景, 司法诉讼, 舆情与事件, 预警, 案件, 评级历史, 合同) and the
downloadable report (HTML or PDF) are drawn from the same :func:`portrait`, so they
cannot disagree. The rating shown is always the client's current one (``clients``);
its explanation comes from the latest rating record, or from the stored screening
report, only when that record states the same rating, score, level and limit — a
limit changed by a sensitive edit after screening never appears beside a stale one.
"""

from __future__ import annotations

from collections.abc import Mapping
from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.errors import Forbidden
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.alerts.model import Alert
from workflow.risk.clients.masking import UNMASKED_ROLES, can_see_sensitive
from workflow.risk.clients.model import Client
from workflow.risk.clients.queries import read_client
from workflow.risk.clients.service import client_view, plain
from workflow.risk.events.model import ClientTag, RatingRecord, RiskEvent

# Which events each tab lists (舆情与事件 lists them all).
BACKGROUND_EVENTS = (
    "business_change",
    "abnormal_operation",
    "administrative_penalty",
    "equity_freeze",
    "tax_violation",
)
LEGAL_EVENTS = ("litigation", "dishonest_debtor")
# Registration data shown on 工商背景 (financial ones are masked for sales by client_view).
REGISTRATION_FIELDS = (
    "credit_code",
    "legal_representative",
    "industry",
    "region",
    "registered_capital",
    "established_on",
    "ownership_type",
    "state_ownership_pct",
)
LIMIT = 200  # rows per list: a portrait is a page, not an export


DASHBOARD_ROLES = frozenset({"auditor", "manager", "risk_officer"})


def _require_roles(actor: Actor, roles: frozenset[str], what: str) -> None:
    if not (actor.is_system or actor.has_any(roles)):
        names = sorted(roles)
        raise Forbidden(
            f"{what} needs one of the roles {', '.join(names)}",
            rule="role",
            code="role.required",
            params={"roles": names},
        )


def authorize_report(session: Session, client_id: int, actor: Actor) -> Client:
    """The client whose full risk report ``actor`` may read.

    Raises:
        Forbidden: a role that reads no client, or one that never sees the risk report
            behind a rating (sales see rating and level only, as in the client detail).
        NotFound: no such client, or (sales) another owner's.
    """
    client = read_client(session, client_id, actor)
    _require_roles(actor, UNMASKED_ROLES, "the risk report")
    return client


def require_dashboard_reader(actor: Actor) -> None:
    """Raises:
    Forbidden: the actor is none of a manager, an auditor or a risk officer."""
    _require_roles(actor, DASHBOARD_ROLES, "the dashboard")


def _amount(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.01"))


def _score(value: Any) -> Decimal | None:
    return None if value is None else Decimal(str(value)).quantize(Decimal("0.1"))


def _states_current(client: Client, rating: Any, score: Any, level: Any, limit: Any) -> bool:
    """Whether a record's values are the client's current ones. A limit the record
    omits (a screening before activation grants none) does not contradict."""
    if (rating, level) != (client.rating, client.risk_level):
        return False
    if _score(score) != _score(client.risk_score):
        return False
    return client.credit_limit is None or _amount(limit) == _amount(client.credit_limit)


def _explanation_of_record(record: RatingRecord) -> dict[str, Any]:
    """A rating record's ``reasons`` in the screening report's shape: the rules that fired
    and the scorecard's contributions of a re-rating, or the change request that set the
    values (an approved override or re-rating proposal)."""
    fired: list[Any] = []
    contributions: list[Any] = []
    notes: list[str] = []
    decided_by = None
    change_request = None
    for item in record.reasons or []:
        kind = item.get("kind") if isinstance(item, Mapping) else None
        if kind == "scorecard":
            contributions.extend(plain(list(item.get("contributions") or [])))
            decided_by = item.get("decided_by") or decided_by
        elif kind == "change_request":
            change_request = item.get("id")
        elif isinstance(item, Mapping) and "indicator" in item:
            contributions.append(plain(dict(item)))
        elif isinstance(item, Mapping) and "reason" in item:
            fired.append(plain({k: v for k, v in item.items() if k != "kind"}))
        elif isinstance(item, str):
            notes.append(item)
    return {
        "source": "rating_record",
        "rated_at": plain(record.rated_at),
        "trigger": record.trigger,
        "decided_by": "rule" if fired else (decided_by or "scorecard"),
        "fired_rules": fired,
        "contributions": contributions,
        "notes": notes,
        "change_request": change_request,
    }


def _explanation_of_screening(screening: Mapping[str, Any]) -> dict[str, Any]:
    return {
        "source": "screening",
        "rated_at": screening.get("at"),
        "trigger": "screening",
        "decided_by": screening.get("decided_by") or "scorecard",
        "fired_rules": plain(list(screening.get("fired_rules") or [])),
        "contributions": plain(list(screening.get("contributions") or [])),
        "notes": [],
        "change_request": None,
    }


def current_rating(session: Session, client: Client) -> dict[str, Any]:
    """The client's current rating, score, level and limit, with the explanation of the
    latest evaluation that states exactly these values (``explanation`` is None when
    none does, e.g. after a sensitive edit changed the limit)."""
    latest = session.execute(
        select(RatingRecord)
        .where(RatingRecord.client_id == client.id)
        .order_by(RatingRecord.rated_at.desc(), RatingRecord.id.desc())
        .limit(1)
    ).scalar_one_or_none()
    explanation = None
    if latest is not None and _states_current(
        client, latest.rating, latest.risk_score, latest.risk_level, latest.credit_limit
    ):
        explanation = _explanation_of_record(latest)
    screening = client.screening or {}
    unexplained = explanation is None or not any(
        explanation[k] for k in ("fired_rules", "contributions", "notes", "change_request")
    )
    # A record that states the current values without reasons (e.g. written by an approval)
    # leaves the screening to explain them, if it states them too.
    if (
        unexplained
        and client.rating is not None
        and screening
        and _states_current(
            client,
            screening.get("rating"),
            screening.get("score"),
            screening.get("risk_level"),
            screening.get("credit_limit"),
        )
    ):
        explanation = _explanation_of_screening(screening)
    return {
        "rating": client.rating,
        "risk_score": plain(client.risk_score),
        "risk_level": client.risk_level,
        "credit_limit": plain(client.credit_limit),
        "explanation": explanation,
    }


def _event(event: RiskEvent, sensitive: bool) -> dict[str, Any]:
    row: dict[str, Any] = {
        "id": event.id,
        "type": event.type,
        "title": event.title,
        "details": event.details,
        "keywords": list(event.keywords or []),
        "source": event.source,
        "occurred_at": plain(event.occurred_at),
    }
    # Amounts, courts and case numbers, and what the rules did, are for the risk side.
    row["data"] = plain(dict(event.data or {})) if sensitive else None
    return row


def _rating(record: RatingRecord, sensitive: bool) -> dict[str, Any]:
    return {
        "rating": record.rating,
        "risk_level": record.risk_level,
        "risk_score": plain(record.risk_score) if sensitive else None,
        "credit_limit": plain(record.credit_limit) if sensitive else None,
        "outcome": record.outcome,
        "trigger": record.trigger,
        "rated_at": plain(record.rated_at),
    }


def portrait(
    session: Session,
    client: Client,
    actor: Actor,
    *,
    now: datetime | None = None,
    view: str = "detail",
) -> dict[str, Any]:
    """Everything the portrait's tabs and the risk report show of ``client``, as
    ``actor`` may see it (financials, event extras, scores and the explanation hidden
    from sales). The read is logged as ``view`` (the caller commits)."""
    now = now or clock.now()
    sensitive = actor.is_system or can_see_sensitive(actor.roles)
    shown = client_view(session, client, actor, view=view)
    rating = current_rating(session, client)
    if not sensitive:
        rating = {**rating, "risk_score": None, "credit_limit": None, "explanation": None}
    events = list(
        session.execute(
            select(RiskEvent)
            .where(RiskEvent.client_id == client.id)
            .order_by(RiskEvent.occurred_at.desc(), RiskEvent.id.desc())
            .limit(LIMIT)
        ).scalars()
    )
    tags = session.execute(
        select(ClientTag)
        .where(ClientTag.client_id == client.id)
        .where((ClientTag.expires_at.is_(None)) | (ClientTag.expires_at > now))
        .order_by(ClientTag.since, ClientTag.id)
    ).scalars()
    alerts = session.execute(
        select(Alert, WorkflowInstance.state, WorkflowInstance.is_open)
        .outerjoin(WorkflowInstance, WorkflowInstance.id == Alert.instance_id)
        .where(Alert.client_id == client.id)
        .order_by(Alert.id.desc())
        .limit(LIMIT)
    ).all()
    cases = session.execute(
        select(WorkflowInstance)
        .where(WorkflowInstance.subject_type == "client", WorkflowInstance.subject_id == client.id)
        .order_by(WorkflowInstance.id.desc())
        .limit(LIMIT)
    ).scalars()
    ratings = session.execute(
        select(RatingRecord)
        .where(RatingRecord.client_id == client.id)
        .order_by(RatingRecord.rated_at, RatingRecord.id)
        .limit(LIMIT)
    ).scalars()
    event_rows = [_event(e, sensitive) for e in events]
    facts = dict(client.facts or {}) if sensitive else {}
    return {
        "client": shown,
        "rating": rating,
        "tags": {
            "manual": list(shown.get("tags") or []),
            "system": [
                {
                    "tag": t.tag,
                    "source": t.source,
                    "since": plain(t.since),
                    "expires_at": plain(t.expires_at),
                }
                for t in tags
            ],
        },
        "background": {
            "registration": {name: shown.get(name) for name in REGISTRATION_FIELDS},
            "events": [e for e in event_rows if e["type"] in BACKGROUND_EVENTS],
        },
        "legal": {
            "litigation_count": facts.get("litigation_count"),
            "dishonest_debtor": facts.get("dishonest_debtor"),
            "events": [e for e in event_rows if e["type"] in LEGAL_EVENTS],
        },
        "events": event_rows,
        "alerts": [
            {
                "id": alert.id,
                "instance_id": alert.instance_id,
                "level": alert.level,
                "category": alert.category,
                "title": alert.title,
                "state": state,
                "is_open": bool(is_open),
                "created_at": plain(alert.created_at),
            }
            for alert, state, is_open in alerts
        ],
        "cases": [
            {
                "id": c.id,
                "definition": c.definition,
                "definition_version": c.definition_version,
                "state": c.state,
                "is_open": c.is_open,
                "created_at": plain(c.created_at),
                "created_by": c.created_by,
            }
            for c in cases
        ],
        "ratings": [_rating(r, sensitive) for r in ratings],
        "contracts": list(shown.get("contracts") or []),
        "generated_at": plain(now),
    }


def week_summary(session: Session, since: datetime, limit: int = 20) -> dict[str, Any]:
    """The dashboard's week: risk events received since ``since`` counted by type, and the
    rating changes (records that applied or proposed a different rating), newest first."""
    by_type = dict(
        session.execute(
            select(RiskEvent.type, func.count())
            .where(RiskEvent.received_at >= since)
            .group_by(RiskEvent.type)
        ).all()
    )
    changed = (
        select(RatingRecord, Client.name)
        .join(Client, Client.id == RatingRecord.client_id)
        .where(RatingRecord.rated_at >= since, RatingRecord.outcome.in_(("applied", "proposed")))
        .order_by(RatingRecord.rated_at.desc(), RatingRecord.id.desc())
    )
    changes = []
    for record, name in session.execute(changed.limit(limit)):
        before = (record.previous or {}).get("rating")
        changes.append(
            {
                "client_id": record.client_id,
                "client": name,
                "before": before,
                "after": record.rating,
                "outcome": record.outcome,
                "rated_at": record.rated_at,
            }
        )
    count = session.execute(
        select(func.count()).select_from(changed.order_by(None).subquery())
    ).scalar_one()
    return {"events": by_type, "changes": changes, "change_count": count}


def week_start(now: datetime) -> datetime:
    """Monday 00:00 of ``now``'s week."""
    day = now.replace(hour=0, minute=0, second=0, microsecond=0)
    return day - timedelta(days=day.weekday())
