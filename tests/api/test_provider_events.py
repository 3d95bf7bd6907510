"""Risk events from the HTTP data provider: a poll per active client, its events stored
once through the intake and monitored, and back-off on the timer when it is down."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from api.extensions import db, runtime_of
from tests.support.alerts import make_client
from tests.support.app import drain
from tests.support.providers import FakeService
from workflow.platform import clock
from workflow.records.models import Timer
from workflow.risk.events import provider_poll
from workflow.risk.events.model import RiskEvent

NOW = datetime(2026, 11, 20, 8, 0)


@pytest.fixture
def service(app: Flask) -> Iterator[FakeService]:
    fake = FakeService()
    runtime_of(app).settings.update(
        {
            "RISKLOOP_SCREENING_PROVIDERS": "http",
            "RISKLOOP_PROVIDER_URL": fake.url,
            "RISKLOOP_PROVIDER_RETRIES": "0",
            "RISKLOOP_PROVIDER_TIMEOUT": "5",
        }
    )
    yield fake
    fake.close()


def polls(app: Flask, client_id: int) -> list[tuple[datetime, int]]:
    """(due, failures) of the client's pending polls."""
    with app.app_context():
        timers = db.session.execute(
            select(Timer).where(Timer.job == provider_poll.JOB, Timer.status == "pending")
        ).scalars()
        return sorted(
            (t.due_at, t.args["failures"]) for t in timers if t.args.get("client_id") == client_id
        )


def poll(app: Flask, client_id: int, failures: int = 0) -> dict | None:
    with app.app_context():
        result = provider_poll.poll_client(db.session, client_id, clock.now(), failures=failures)
        db.session.commit()
        return result


def test_the_provider_events_of_an_active_client_are_stored_once_and_monitored(
    app: Flask, service: FakeService
) -> None:
    clock.freeze(NOW)
    active, prospect = make_client(app), make_client(app, status="prospect")
    with app.app_context():
        armed = provider_poll.scan(db.session, clock.now())
        db.session.commit()
    assert armed == 1 and polls(app, active) == [(NOW, 0)] and polls(app, prospect) == []
    answer = {
        "events": [
            {"type": "abnormal_operation", "title": "列入经营异常名录", "external_id": "QCC-1"},
            {"type": "gossip", "title": "传闻", "external_id": "QCC-2"},
        ]
    }
    service.answers = [(200, answer, 0.0), (200, answer, 0.0)]
    assert poll(app, active) == {"stored": 1, "refused": 1, "failures": 0}
    assert service.requests[-1].startswith("/companies/")
    assert poll(app, active) == {"stored": 0, "refused": 1, "failures": 0}  # seen before
    drain(app)
    with app.app_context():
        events = db.session.execute(select(RiskEvent)).scalars().all()
        assert [(e.source, e.external_id) for e in events] == [("provider:http", "QCC-1")]
        assert events[0].outcome["fired"][0]["rule"] == "abnormal_operation_red"
    assert (NOW + timedelta(hours=6), 0) in polls(app, active)


def test_a_provider_that_is_down_is_asked_again_later_and_later(
    app: Flask, service: FakeService
) -> None:
    clock.freeze(NOW)
    cid = make_client(app)
    service.answers = [(503, {}, 0.0), (503, {}, 0.0), (503, {}, 0.0)]
    assert poll(app, cid)["failures"] == 1
    assert poll(app, cid, failures=1)["failures"] == 2
    assert poll(app, cid, failures=2)["failures"] == 3
    assert polls(app, cid) == [
        (NOW + timedelta(minutes=5), 1),
        (NOW + timedelta(minutes=10), 2),
        (NOW + timedelta(minutes=20), 3),
    ]
    assert provider_poll.retry_delay(12, timedelta(hours=6)) == timedelta(hours=6)


def test_nothing_is_polled_without_an_http_provider(app: Flask) -> None:
    cid = make_client(app)
    assert poll(app, cid) is None
    with app.app_context():
        assert provider_poll.scan(db.session, clock.now()) == 0
