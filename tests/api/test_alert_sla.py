"""SLAs by level with a frozen clock: breaches mark the case, tell managers and owners,
escalate again while still late, and the rectify SLA starts on response."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import select

from api.extensions import db, runtime_of
from tests.support.alerts import alert_body, make_client
from tests.support.app import drain
from workflow.background import scheduler as scheduling
from workflow.platform import clock
from workflow.records.models import Notification
from workflow.risk.alerts.intake import Alert
from workflow.risk.alerts.sla import add_business_time, due_after

pytestmark = pytest.mark.usefixtures("webhook_secret")  # alert intake is open

# Monday 2026-11-23 10:00 in Shanghai; far from the 21:00 digest for the spans below.
START = datetime(2026, 11, 23, 2, 0)


def later(api, delta: timedelta) -> None:
    """Move the frozen clock; sign in again (tokens expire after 8 hours)."""
    clock.advance(delta)
    api.tokens.clear()


def run_timers(app) -> None:
    rt = runtime_of(app)
    scheduling.tick(rt.session_factory, rt.catalog.registry, rt.settings)
    drain(app)


def notes(app, username: str, event: str) -> list[str]:
    with app.app_context():
        return list(
            db.session.execute(
                select(Notification.title)
                .where(Notification.username == username, Notification.event == event)
                .order_by(Notification.id)
            ).scalars()
        )


def breaches(app, case: int) -> int:
    with app.app_context():
        return db.session.execute(
            select(Alert.breaches).where(Alert.instance_id == case)
        ).scalar_one()


@pytest.mark.parametrize(
    ("level", "respond"),
    [("black", timedelta(hours=4)), ("red", timedelta(hours=24)), ("yellow", timedelta(hours=72))],
)
def test_the_respond_sla_of_each_level_breaches_exactly_at_its_deadline(app, api, level, respond):
    clock.freeze(START)
    cid = make_client(app)
    case = api.post("risk1", "/api/v1/alerts", json=alert_body(cid, level=level)).get_json()
    assert case["sla_due_at"] == (START + respond).isoformat() + "+00:00"
    later(api, respond - timedelta(minutes=1))
    run_timers(app)
    r = api.get("risk1", f"/api/v1/workflows/{case['id']}")
    assert r.get_json()["breached"] is False, r.get_json()
    later(api, timedelta(minutes=2))
    run_timers(app)
    detail = api.get("risk1", f"/api/v1/workflows/{case['id']}").get_json()
    assert detail["breached"] is True and detail["state"] == "warned"
    assert detail["data"]["breaches"] == 1
    assert len(notes(app, "manager1", "sla_breached")) == 1
    assert len(notes(app, "sales1", "alert_breached")) == 1
    assert (
        api.get("risk1", "/api/v1/alerts?breached=true").get_json()["items"][0]["id"] == case["id"]
    )


def test_a_black_alert_still_late_escalates_again_and_the_rectify_sla_follows(app, api):
    clock.freeze(START)
    cid = make_client(app)
    case = api.post("risk1", "/api/v1/alerts", json=alert_body(cid, level="black")).get_json()["id"]
    later(api, timedelta(hours=4, seconds=1))
    run_timers(app)
    assert breaches(app, case) == 1
    later(api, timedelta(hours=4))
    run_timers(app)
    assert breaches(app, case) == 2
    assert len(notes(app, "manager1", "sla_breached")) == 2  # escalated again

    r = api.act("sales1", case, "respond", assessment="a", plan="p")
    inst = r.get_json()["instance"]
    assert inst["breached"] is False
    assert inst["sla_due_at"] == (clock.now() + timedelta(days=2)).isoformat() + "+00:00"
    later(api, timedelta(hours=4, seconds=1))
    run_timers(app)  # the respond escalation left with the state: no third breach
    assert breaches(app, case) == 2
    later(api, timedelta(days=2))
    run_timers(app)
    detail = api.get("risk1", f"/api/v1/workflows/{case}").get_json()
    assert detail["breached"] is True and detail["state"] == "responded"
    assert breaches(app, case) == 3
    trail = api.get("auditor1", f"/api/v1/workflows/{case}/audit").get_json()["items"]
    escalations = [(a["actor"], a["payload"]["stage"]) for a in trail if a["trigger"] == "escalate"]
    assert escalations == [("system:timer", "respond")] * 2 + [("system:timer", "rectify")]


def test_responding_in_time_means_no_breach(app, api):
    clock.freeze(START)
    cid = make_client(app)
    case = api.post("risk1", "/api/v1/alerts", json=alert_body(cid, level="red")).get_json()["id"]
    later(api, timedelta(hours=23))
    api.act("sales1", case, "respond", assessment="a", plan="p")
    later(api, timedelta(hours=2))
    run_timers(app)
    assert breaches(app, case) == 0
    assert notes(app, "manager1", "sla_breached") == []


def test_business_hours_skip_nights_weekends_and_chinese_holidays():
    tz = "Asia/Shanghai"
    # Friday 17:00 + 4 working hours → Monday 12:00 (Shanghai); times are UTC.
    assert add_business_time(datetime(2026, 11, 20, 9, 0), timedelta(hours=4), tz) == datetime(
        2026, 11, 23, 4, 0
    )
    # 30 September 17:00 + 4 h → the National Day holiday (1-7 October) is skipped.
    assert add_business_time(datetime(2026, 9, 30, 9, 0), timedelta(hours=4), tz) == datetime(
        2026, 10, 8, 4, 0
    )
    # Sunday 20 September 2026 is an adjusted working day (调休): it counts.
    assert add_business_time(datetime(2026, 9, 19, 2, 0), timedelta(hours=1), tz) == datetime(
        2026, 9, 20, 2, 0
    )
    # Two working days = two full 9-hour days.
    assert add_business_time(datetime(2026, 11, 23, 1, 0), timedelta(days=2), tz) == datetime(
        2026, 11, 24, 10, 0
    )


def test_a_level_with_business_hours_gets_its_due_time_from_the_working_calendar(app):
    settings = {
        "sla": {"yellow": {"respond": "4h", "rectify": "2d", "business_hours": True}},
        "business_hours": {"start": "09:00", "end": "18:00"},
    }
    with app.app_context():
        friday = datetime(2026, 11, 20, 9, 0)
        assert due_after(settings, "yellow", "respond", friday) == datetime(2026, 11, 23, 4, 0)
        assert due_after(settings, "red", "respond", friday) == friday + timedelta(hours=24)
