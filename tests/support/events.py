"""Risk events for tests: admitted clients to post them on, signed batches, and reading
back what the monitoring rules did (alerts, system tags, the rating history)."""

from __future__ import annotations

import itertools
import json
from typing import Any

from flask import Flask
from sqlalchemy import select

from api.extensions import db
from tests.support.alerts import SECRET, now_unix
from tests.support.app import Api, drain
from tests.support.onboarding import admit, new_client
from workflow.risk.alerts.intake import Alert
from workflow.risk.alerts.webhook import sign
from workflow.risk.events.model import ClientTag, RatingRecord, RiskEvent

_ids = itertools.count(1)


def admitted_client(app: Flask, api: Api, n: int, **fields: Any) -> int:
    """A client screened and approved by risk1 (active, rated)."""
    client_id = new_client(api, n, **fields)
    case = admit(app, api, client_id)
    r = api.act("risk1", case["id"], "approve", comment="ok")
    assert r.status_code == 200, r.get_json()
    drain(app)
    return client_id


def event(type_: str, title: str, **over: Any) -> dict[str, Any]:
    return {
        "type": type_,
        "title": title,
        "source": "test-monitor",
        "external_id": f"evt-{next(_ids)}",
        **over,
    }


def post_event(app: Flask, api: Api, client_id: int, body: dict[str, Any], user: str = "risk1"):  # noqa: ANN201
    r = api.post(user, f"/api/v1/clients/{client_id}/events", json=body)
    assert r.status_code in (200, 201), r.get_json()
    drain(app)
    return r.get_json()


def post_batch(
    api: Api, body: dict[str, Any] | bytes, *, secret: str = SECRET, signed: bool = True
):  # noqa: ANN201
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    headers = {}
    if signed:
        ts = str(now_unix())
        headers = {"X-Riskloop-Timestamp": ts, "X-Riskloop-Signature": sign(secret, ts, raw)}
    return api.client.post(
        "/api/v1/events/webhook", data=raw, headers=headers, content_type="application/json"
    )


def alerts_of(app: Flask, client_id: int) -> list[tuple[str, str, str]]:
    """(level, category, external_id) of the client's alerts, oldest first."""
    with app.app_context():
        return [
            (a.level, a.category, a.external_id)
            for a in db.session.execute(
                select(Alert).where(Alert.client_id == client_id).order_by(Alert.id)
            ).scalars()
        ]


def tags_of(app: Flask, client_id: int) -> list[str]:
    with app.app_context():
        return sorted(
            db.session.execute(select(ClientTag.tag).where(ClientTag.client_id == client_id))
            .scalars()
            .all()
        )


def ratings_of(app: Flask, client_id: int) -> list[RatingRecord]:
    with app.app_context():
        rows = list(
            db.session.execute(
                select(RatingRecord)
                .where(RatingRecord.client_id == client_id)
                .order_by(RatingRecord.id)
            ).scalars()
        )
        db.session.expunge_all()
        return rows


def stored_event(app: Flask, event_id: int) -> RiskEvent:
    with app.app_context():
        row = db.session.get(RiskEvent, event_id)
        assert row is not None
        db.session.expunge(row)
        return row
