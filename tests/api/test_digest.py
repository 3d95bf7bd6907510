"""The nightly digest at 21:00 Asia/Shanghai: one message per owner, exactly once a day,
even with two schedulers ticking and the job running again after a restart."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from api.extensions import db, runtime_of
from tests.support.alerts import alert_body, make_client
from tests.support.app import drain
from workflow.background import scheduler as scheduling
from workflow.platform import clock
from workflow.records.models import Notification, Timer
from workflow.risk.notify.digest import AlertDigest, send_digests

pytestmark = pytest.mark.usefixtures("webhook_secret")  # alert intake is open

# Monday 2026-11-23 12:00 in Shanghai (04:00 UTC); the digest is due at 13:00 UTC.
NOON = datetime(2026, 11, 23, 4, 0)
DIGEST_DUE = datetime(2026, 11, 23, 13, 0)


def digests(app) -> dict[str, list[str]]:
    with app.app_context():
        found: dict[str, list[str]] = {}
        for username, body in db.session.execute(
            select(Notification.username, Notification.body)
            .where(Notification.event == "alert_digest")
            .order_by(Notification.id)
        ):
            found.setdefault(username, []).append(body)
        return found


def test_each_owner_gets_one_digest_at_21_00_even_with_two_schedulers_and_a_restart(app, api):
    rt = runtime_of(app)
    second_engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    second_scheduler = sessionmaker(second_engine, expire_on_commit=False)
    try:
        clock.freeze(NOON)
        scheduling.tick(rt.session_factory, rt.catalog.registry, rt.settings)
        scheduling.tick(second_scheduler, rt.catalog.registry, rt.settings)
        with app.app_context():
            armed = list(
                db.session.execute(
                    select(Timer.due_at).where(Timer.job == "alert_digest")
                ).scalars()
            )
        assert armed == [DIGEST_DUE]  # two schedulers armed one run

        mine = make_client(app, owner="sales1")
        theirs = make_client(app, owner="sales2")
        black = api.post(
            "risk1",
            "/api/v1/alerts",
            json=alert_body(
                mine, level="black", category="dishonest_debtor", title="被列为失信被执行人"
            ),
        ).get_json()
        api.post(
            "risk1", "/api/v1/alerts", json=alert_body(theirs, level="yellow", title="工商变更")
        )
        clock.advance(timedelta(hours=4, seconds=1))
        api.tokens.clear()
        scheduling.tick(
            rt.session_factory, rt.catalog.registry, rt.settings
        )  # the black SLA breaches
        drain(app)

        clock.freeze(DIGEST_DUE + timedelta(seconds=30))
        fired = [
            scheduling.tick(second_scheduler, rt.catalog.registry, rt.settings),
            scheduling.tick(rt.session_factory, rt.catalog.registry, rt.settings),
        ]
        assert fired[0] >= 1 and fired[1] == 0  # the second scheduler found nothing left to claim
        drain(app)
        with app.app_context():  # a restart at 21:00 runs the job's body again: nothing new is sent
            assert send_digests(db.session, clock.now()) == []
            db.session.commit()
        drain(app)
    finally:
        second_engine.dispose()

    got = digests(app)
    assert {u: len(b) for u, b in got.items()} == {
        "legal1": 1,
        "manager1": 1,
        "risk1": 1,
        "risk2": 1,
        "sales1": 1,
        "sales2": 1,
    }
    assert "被列为失信被执行人" in got["sales1"][0] and "工商变更" not in got["sales1"][0]
    breached_part = got["sales1"][0].split("SLA breached")[1]
    assert f"case {black['id']}" in breached_part
    assert "- none" in got["sales2"][0].split("SLA breached")[1]
    with app.app_context():
        nxt = db.session.execute(
            select(Timer.due_at).where(Timer.job == "alert_digest", Timer.status == "pending")
        ).scalar_one()
    assert nxt == DIGEST_DUE + timedelta(days=1)


def test_the_next_digest_lists_only_what_is_new_since_the_last_one(app, api):
    rt = runtime_of(app)
    cid = make_client(app, owner="sales1")
    clock.freeze(NOON)
    api.post("risk1", "/api/v1/alerts", json=alert_body(cid, title="第一天"))
    with app.app_context():
        assert "sales1" in send_digests(db.session, DIGEST_DUE)
        db.session.commit()
    clock.freeze(NOON + timedelta(days=1))
    api.tokens.clear()
    api.post("risk1", "/api/v1/alerts", json=alert_body(cid, title="第二天"))
    clock.freeze(DIGEST_DUE + timedelta(days=1))
    with app.app_context():
        assert send_digests(db.session, clock.now()) == ["risk1", "risk2", "sales1"]
        db.session.commit()
        days = list(
            db.session.execute(
                select(AlertDigest.day)
                .where(AlertDigest.username == "sales1")
                .order_by(AlertDigest.id)
            ).scalars()
        )
    assert days == ["2026-11-23", "2026-11-24"]
    drain(app)
    second = digests(app)["sales1"][-1]
    assert "第二天" in second and "第一天" not in second
    assert rt is runtime_of(app)
