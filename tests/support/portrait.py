"""A client with a living risk picture, written row by row with the models (the intake
and monitoring that write these tables in production are not needed to read them)."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal
from typing import Any

from flask import Flask

from api.extensions import db
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.risk.clients import service as client_service
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.model import Client
from workflow.risk.events.model import ClientTag, RatingRecord, RiskEvent

SYSTEM = Actor.system("test")
NAME = "杭州画像示例科技有限公司"
SCREENING_LIMIT = 18_000_000
CURRENT_LIMIT = 25_000_000


def add_event(client_id: int, type_: str, title: str, *, days_ago: int = 1, **extra: Any) -> None:
    at = clock.now() - timedelta(days=days_ago)
    db.session.add(
        RiskEvent(
            client_id=client_id,
            type=type_,
            title=title,
            details=extra.pop("details", ""),
            keywords=extra.pop("keywords", []),
            data=extra.pop("data", {}),
            source=extra.pop("source", "test"),
            external_id=f"{client_id}-{type_}-{title}",
            occurred_at=at,
            received_at=extra.pop("received_at", at),
            recorded_by="system:test",
        )
    )


def add_tag(client_id: int, tag: str, *, since: datetime, days: int) -> None:
    """A system risk tag current from ``since`` for ``days``."""
    db.session.add(
        ClientTag(
            client_id=client_id,
            tag=tag,
            source="rule:test",
            since=since,
            expires_at=since + timedelta(days=days),
        )
    )


def add_rating(
    client_id: int,
    rating: str,
    score: str,
    level: str,
    limit: int | None,
    *,
    at: datetime,
    before: str | None = None,
    outcome: str = "applied",
    reasons: list[Any] | None = None,
) -> None:
    db.session.add(
        RatingRecord(
            client_id=client_id,
            rating=rating,
            risk_score=Decimal(score),
            risk_level=level,
            credit_limit=None if limit is None else Decimal(limit),
            previous={"rating": before} if before else None,
            reasons=reasons or [],
            trigger="screening" if before is None else "event:1",
            outcome=outcome,
            rated_at=at,
        )
    )


def portrait_client(app: Flask, *, owner: str = "sales1") -> int:
    """An active client of ``owner``: screened B with an 18 M limit, whose limit was then
    raised to 25 M by a sensitive edit (so the screening report is stale), with events of
    every tab, a manual and a system tag, an alert-free history of two ratings and a
    contract. Returns its id."""
    with app.app_context():
        client = client_service.create_client(
            db.session,
            {
                "name": NAME,
                "credit_code": make_credit_code("91330100MA2PT0001"),
                "legal_representative": "王五",
                "industry": "软件",
                "region": "浙江",
                "registered_capital": "50000000",
                "bank_account": "6222020000111122223",
                "contacts": [{"name": "赵六", "phone": "13900001111", "email": "z@example.com"}],
                "facts": {"litigation_count": 3, "payment_history": "good"},
                "tags": ["重点客户"],
            },
            Actor(owner, frozenset({"sales"})),
        )
        db.session.flush()
        row = db.session.get(Client, client.id)
        assert row is not None
        now = clock.now()
        row.status = "active"
        row.rating, row.risk_level, row.risk_score = "B", "medium", Decimal("62.5")
        row.credit_limit = Decimal(CURRENT_LIMIT)  # raised by a sensitive edit after screening
        row.contracts = [
            {
                "number": "HT-2026-001",
                "amount": 3_000_000,
                "start": "2026-01-05",
                "end": "2027-01-04",
            },
        ]
        row.screening = {
            "rating": "B",
            "score": 62.5,
            "risk_level": "medium",
            "credit_limit": SCREENING_LIMIT,
            "decided_by": "rule",
            "fired_rules": [
                {
                    "id": "litigation_many",
                    "rating": "B",
                    "reason": {"en": "Three or more lawsuits", "zh-CN": "涉诉三次及以上"},
                }
            ],
            "contributions": [],
            "at": clock.isoformat(now - timedelta(days=30)),
        }
        add_rating(client.id, "A", "80.0", "low", SCREENING_LIMIT, at=now - timedelta(days=30))
        add_rating(
            client.id,
            "B",
            "62.5",
            "medium",
            SCREENING_LIMIT,
            at=now - timedelta(days=2),
            before="A",
        )
        add_tag(client.id, "涉诉频繁", since=now - timedelta(days=2), days=90)
        add_tag(client.id, "已过期标签", since=now - timedelta(days=100), days=90)
        add_event(client.id, "business_change", "法定代表人变更", days_ago=5)
        add_event(
            client.id,
            "litigation",
            "买卖合同纠纷一审",
            days_ago=3,
            data={"amount": 1_250_000, "court": "杭州市中级人民法院"},
        )
        add_event(client.id, "negative_news", "媒体报道拖欠货款", days_ago=1)
        db.session.commit()
        return client.id
