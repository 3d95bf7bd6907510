"""Alert intake: webhook signatures (good, bad, replayed) and deduplication, including
a flood of concurrent deliveries of the same alert on PostgreSQL."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import func, select

from api.extensions import db, runtime_of
from tests.support.alerts import SECRET, alert_body, make_client, now_unix, post_signed
from tests.support.app import Api, make_app
from tests.support.databases import shared_postgres
from workflow.platform import clock
from workflow.records.models import WorkflowInstance
from workflow.risk.alerts.intake import Alert
from workflow.risk.alerts.webhook import sign

pytestmark = pytest.mark.usefixtures("webhook_secret")  # alert intake is open


def count(app, model) -> int:
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


def test_a_correctly_signed_alert_is_accepted_and_a_repeat_answers_with_the_same_loop(app, api):
    cid = make_client(app)
    body = alert_body(cid, source="qichacha", external_id="QCC-2026-001")
    first = post_signed(api, body)
    assert first.status_code == 201, first.get_json()
    again = post_signed(api, body)
    assert again.status_code == 200
    assert again.get_json()["id"] == first.get_json()["id"]
    via_api = api.post("risk1", "/api/v1/alerts", json=body)
    assert via_api.status_code == 200 and via_api.get_json()["id"] == first.get_json()["id"]
    assert count(app, Alert) == 1 and count(app, WorkflowInstance) == 1


def test_bad_missing_and_replayed_signatures_are_refused_and_nothing_is_stored(app, api):
    cid = make_client(app)
    clock.freeze(datetime(2026, 11, 23, 6, 0))
    body = alert_body(cid)
    raw = json.dumps(body).encode()
    ts = now_unix()
    cases = {
        "wrong secret": post_signed(api, body, secret="guess"),
        "tampered body": post_signed(
            api, raw.replace(b"red", b"black"), signature=sign(SECRET, str(ts), raw)
        ),
        "older than 5 minutes": post_signed(api, body, timestamp=ts - 301),
        "from the future": post_signed(api, body, timestamp=ts + 301),
        "garbage signature": post_signed(api, body, signature="sha256=00"),
        "no headers": api.client.post("/api/v1/alerts/webhook", json=body),
    }
    for what, response in cases.items():
        assert response.status_code == 401, (what, response.get_json())
        assert response.mimetype == "application/problem+json"
    assert count(app, Alert) == 0 and count(app, WorkflowInstance) == 0
    # A signature 4 minutes old is still inside the window.
    assert post_signed(api, body, timestamp=ts - 240).status_code == 201
    clock.advance(timedelta(minutes=6))  # the very same signed request, replayed later
    replay = api.client.post(
        "/api/v1/alerts/webhook",
        data=raw,
        content_type="application/json",
        headers={
            "X-Riskloop-Timestamp": str(ts - 240),
            "X-Riskloop-Signature": sign(SECRET, str(ts - 240), raw),
        },
    )
    assert replay.status_code == 401


def test_intake_is_closed_until_a_webhook_secret_is_configured(app, api, monkeypatch):
    monkeypatch.delenv("RISKLOOP_WEBHOOK_SECRET")
    r = post_signed(api, alert_body(make_client(app)))
    assert r.status_code == 401 and "RISKLOOP_WEBHOOK_SECRET" in r.get_json()["detail"]


def test_a_flood_of_the_same_alert_on_postgresql_creates_one_loop(tmp_path: Path, monkeypatch):
    with shared_postgres() as url:
        monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
        monkeypatch.setenv("RISKLOOP_WEBHOOK_SECRET", SECRET)
        app = make_app(url, tmp_path)
        runtime_of(app).outbox_sender = None
        try:
            cid = make_client(app)
            raw = json.dumps(
                alert_body(cid, level="black", source="tianyancha", external_id="TYC-9")
            ).encode()
            barrier = threading.Barrier(8)
            statuses: list[int] = []
            ids: set[int] = set()

            def deliver() -> None:
                signed = Api(app.test_client())
                barrier.wait()
                r = post_signed(signed, raw)
                statuses.append(r.status_code)
                if r.status_code in (200, 201):
                    ids.add(r.get_json()["id"])

            threads = [threading.Thread(target=deliver) for _ in range(8)]
            for t in threads:
                t.start()
            for t in threads:
                t.join()
            assert sorted(statuses) == [200] * 7 + [201]
            assert len(ids) == 1
            assert count(app, Alert) == 1 and count(app, WorkflowInstance) == 1
        finally:
            with app.app_context():
                db.session.remove()
                db.engine.dispose()


@pytest.mark.parametrize("body", [b"{not json", b"[]", b'{"client_id": "1"}'])
def test_a_signed_but_malformed_body_is_a_4xx_problem(app, api, body):
    r = post_signed(api, body)
    assert 400 <= r.status_code < 500 and r.mimetype == "application/problem+json"
    assert count(app, Alert) == 0
