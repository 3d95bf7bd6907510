"""The digest's hour as governed configuration: ``digest_at`` of the active
``alert_routing`` version. An approved change moves the next digest in every scheduler
without a restart; a value that is no time of day is refused naming the key."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from api.extensions import db, runtime_of
from tests.support.alerts import alert_body, make_client
from tests.support.app import Api, drain
from tests.support.config_changes import active_content, approve, draft, drafted_and_backtested
from workflow.background import scheduler as scheduling
from workflow.platform import clock
from workflow.records import config_versions
from workflow.records.models import Notification, Timer

pytestmark = pytest.mark.usefixtures("webhook_secret")  # alert intake is open

# Monday 2026-11-23 12:00 in Shanghai (04:00 UTC): 21:00 there is 13:00 UTC, and 08:00
# the next morning is 00:00 UTC on the 24th.
NOON = datetime(2026, 11, 23, 4, 0)
AT_21 = datetime(2026, 11, 23, 13, 0)
AT_08 = datetime(2026, 11, 24, 0, 0)


def digest_timers(app: Flask) -> dict[datetime, str]:
    with app.app_context():
        return dict(
            db.session.execute(
                select(Timer.due_at, Timer.status).where(Timer.job == "alert_digest")
            ).all()
        )


def digest_count(app: Flask) -> int:
    with app.app_context():
        return len(
            db.session.execute(
                select(Notification.id).where(Notification.event == "alert_digest")
            ).all()
        )


def test_an_approved_digest_hour_moves_the_next_digest_without_a_restart(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    # every read of the active version asks for the generation marker (no 2 s wait)
    monkeypatch.setattr(config_versions, "CHECK_SECONDS", 0.0)
    rt = runtime_of(app)
    # another process's scheduler: its own engine and its own cache of the active version
    other_engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    other_scheduler = sessionmaker(other_engine, expire_on_commit=False)
    try:
        clock.freeze(NOON)
        scheduling.tick(other_scheduler, rt.catalog.registry, rt.settings)
        assert digest_timers(app) == {AT_21: "pending"}  # RISKLOOP_DIGEST_AT's default

        content = active_content(api, "alert_routing")["content"]
        assert "digest_at" not in content  # the seeded version: the setting's value
        change = drafted_and_backtested(app, api, "alert_routing", content + 'digest_at: "08:00"\n')
        assert approve(api, change).status_code == 200
        assert 'digest_at: "08:00"' in active_content(api, "alert_routing")["content"]

        scheduling.tick(other_scheduler, rt.catalog.registry, rt.settings)
        scheduling.tick(rt.session_factory, rt.catalog.registry, rt.settings)
        assert digest_timers(app) == {AT_21: "cancelled", AT_08: "pending"}

        owner_case = alert_body(make_client(app, owner="sales1"), level="yellow", title="工商变更")
        assert api.post("risk1", "/api/v1/alerts", json=owner_case).status_code == 201
        drain(app)

        clock.freeze(AT_21 + timedelta(seconds=30))
        scheduling.tick(other_scheduler, rt.catalog.registry, rt.settings)  # other jobs run
        drain(app)
        assert digest_count(app) == 0  # nothing at 21:00 any more
        assert digest_timers(app) == {AT_21: "cancelled", AT_08: "pending"}

        clock.freeze(AT_08 + timedelta(seconds=30))
        assert scheduling.tick(other_scheduler, rt.catalog.registry, rt.settings) >= 1
        drain(app)
        assert digest_count(app) >= 1
        with app.app_context():
            sales1 = db.session.execute(
                select(Notification.body).where(
                    Notification.event == "alert_digest", Notification.username == "sales1"
                )
            ).scalar_one()
        assert "工商变更" in sales1
        # each run arms the next at the governed hour: 08:00 the following morning
        pending = [at for at, status in digest_timers(app).items() if status == "pending"]
        assert pending == [AT_08 + timedelta(days=1)]
    finally:
        other_engine.dispose()


@pytest.mark.parametrize("value", ['"25:00"', '"8pm"', "800", '"8:00"'])
def test_a_digest_hour_that_is_no_time_of_day_is_refused_naming_the_key(
    app: Flask, api: Api, value: str
) -> None:
    content = active_content(api, "alert_routing")["content"]
    r = draft(api, "alert_routing", content + f"digest_at: {value}\n")
    assert r.status_code == 422, r.get_json()
    problems = [p for p in r.get_json()["errors"]["content"] if p["key"] == "digest_at"]
    assert problems and "HH:MM" in problems[0]["message"], r.get_json()
