"""Alerts for tests: clients to raise them on, alert bodies and webhook deliveries signed
with the test secret (the ``webhook_secret`` fixture configures it)."""

from __future__ import annotations

import itertools
import json
from datetime import UTC
from typing import Any

from flask import Flask

from api.extensions import db
from tests.support.app import Api
from workflow.platform import clock
from workflow.risk.alerts.webhook import sign
from workflow.risk.clients.model import Client

SECRET = "webhook-test-secret"
_codes = itertools.count(1)


def make_client(
    flask_app: Flask,
    *,
    owner: str = "sales1",
    status: str = "active",
    region: str = "上海",
    industry: str = "manufacturing",
) -> int:
    with flask_app.app_context():
        c = Client(
            name=f"测试客户 {next(_codes)}",
            credit_code=f"9131{next(_codes):013d}X",
            owner=owner,
            status=status,
            region=region,
            industry=industry,
            created_by="sales1",
            tags=[],
            contracts=[],
            facts={},
            version=1,
        )
        db.session.add(c)
        db.session.commit()
        return c.id


def alert_body(client_id: int, **over: Any) -> dict[str, Any]:
    return {
        "client_id": client_id,
        "level": "red",
        "category": "negative_news",
        "title": "负面新闻：拖欠供应商货款",
        "details": "报道称拖欠货款",
        "source": "monitor",
        "external_id": f"ext-{next(_codes)}",
        **over,
    }


def now_unix() -> int:
    return int(clock.now().replace(tzinfo=UTC).timestamp())


def post_signed(
    signed: Api,
    body: dict[str, Any] | bytes,
    *,
    secret: str = SECRET,
    timestamp: int | None = None,
    signature: str | None = None,
):  # noqa: ANN201
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    ts = str(timestamp if timestamp is not None else now_unix())
    headers = {
        "X-Riskloop-Timestamp": ts,
        "X-Riskloop-Signature": signature or sign(secret, ts, raw),
    }
    return signed.client.post(
        "/api/v1/alerts/webhook", data=raw, headers=headers, content_type="application/json"
    )
