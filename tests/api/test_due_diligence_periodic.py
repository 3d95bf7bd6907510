"""Periodic re-review and contract reminders on durable timers, with a frozen clock."""

from __future__ import annotations

from datetime import datetime, timedelta

from flask import Flask
from sqlalchemy import select

from api.extensions import db, runtime_of
from tests.support.app import Api, drain
from tests.support.due_diligence import make_client
from workflow.background import scheduler as scheduling
from workflow.platform import clock
from workflow.records.models import Notification, Timer, WorkflowInstance
from workflow.risk.clients.model import Client
from workflow.risk.due_diligence.periodic_review import (
    JOB,
    SCAN_JOB,
    add_months,
    daily_scan,
    schedule_periodic_review,
)

START = datetime(2026, 1, 15, 10, 0)


def run_due(app: Flask, at: datetime) -> None:
    """Move the clock to ``at`` and let the scheduler and a worker do what is due."""
    clock.freeze(at)
    rt = runtime_of(app)
    assert rt.session_factory is not None
    scheduling.tick(rt.session_factory, rt.catalog.registry, rt.settings)
    drain(app)


def schedule(app: Flask, client_id: int) -> None:
    with app.app_context():
        schedule_periodic_review(db.session, db.session.get(Client, client_id))
        db.session.commit()


def review_timers(app: Flask, client_id: int, status: str | None = "pending") -> list[Timer]:
    with app.app_context():
        query = select(Timer).where(Timer.job == JOB, Timer.key.like(f"review:{client_id}:%"))
        if status:
            query = query.where(Timer.status == status)
        return list(db.session.execute(query.order_by(Timer.due_at)).scalars())


def reviews(app: Flask, client_id: int) -> list[WorkflowInstance]:
    with app.app_context():
        return list(
            db.session.execute(
                select(WorkflowInstance)
                .where(
                    WorkflowInstance.definition == "due_diligence",
                    WorkflowInstance.subject_id == client_id,
                )
                .order_by(WorkflowInstance.id)
            ).scalars()
        )


def test_months_are_added_on_the_calendar() -> None:
    assert add_months(datetime(2026, 1, 31, 9), 1) == datetime(2026, 2, 28, 9)
    assert add_months(datetime(2026, 11, 30), 3) == datetime(2027, 2, 28)
    assert add_months(datetime(2026, 12, 1), 1) == datetime(2027, 1, 1)


def test_normal_clients_are_reviewed_quarterly_and_high_risk_clients_monthly(
    app: Flask, api: Api
) -> None:
    clock.freeze(START)
    normal, high = make_client(app, risk_level="medium"), make_client(app, risk_level="high")
    schedule(app, normal)
    schedule(app, high)
    schedule(app, high)  # idempotent: a second timer for the same period is never created
    assert [(t.key, t.due_at) for t in review_timers(app, normal)] == [
        (f"review:{normal}:2026-04", datetime(2026, 4, 15, 10, 0))
    ]
    assert [(t.key, t.due_at) for t in review_timers(app, high)] == [
        (f"review:{high}:2026-02", datetime(2026, 2, 15, 10, 0))
    ]

    run_due(app, datetime(2026, 2, 15, 9, 59))
    assert reviews(app, high) == []
    run_due(app, datetime(2026, 2, 15, 10, 0))
    opened = reviews(app, high)
    assert [(r.state, r.created_by, r.data["reason"], r.data["period"]) for r in opened] == [
        ("opened", "system:periodic_review", "periodic", "2026-02")
    ]
    assert opened[0].assignees == ["risk1", "risk2"] and reviews(app, normal) == []
    assert [t.key for t in review_timers(app, high)] == [f"review:{high}:2026-03"]
    # The risk team finds it in the inbox and was notified.
    inbox = api.get("risk1", "/api/v1/tasks").get_json()["items"]
    assert [(i["id"], i["available_actions"]) for i in inbox] == [(opened[0].id, ["start"])]
    with app.app_context():
        notes = (
            db.session.execute(
                select(Notification.username).where(Notification.event == "due_diligence_due")
            )
            .scalars()
            .all()
        )
    assert sorted(notes) == ["risk1", "risk2"]

    # March: the February review is still open, so none is added; April arrives for both.
    run_due(app, datetime(2026, 3, 15, 10, 0))
    assert len(reviews(app, high)) == 1
    assert [t.key for t in review_timers(app, high)] == [f"review:{high}:2026-04"]
    run_due(app, datetime(2026, 4, 15, 10, 0))
    assert len(reviews(app, normal)) == 1 and len(reviews(app, high)) == 1
    assert [t.key for t in review_timers(app, normal)] == [f"review:{normal}:2026-07"]


def test_review_intervals_are_configurable(app: Flask) -> None:
    clock.freeze(START)
    runtime_of(app).settings.update(RISKLOOP_REVIEW_MONTHS=6, RISKLOOP_REVIEW_MONTHS_HIGH_RISK=2)
    normal, high = make_client(app), make_client(app, risk_level="high")
    schedule(app, normal)
    schedule(app, high)
    assert review_timers(app, normal)[0].due_at == datetime(2026, 7, 15, 10, 0)
    assert review_timers(app, high)[0].due_at == datetime(2026, 3, 15, 10, 0)


def test_a_client_turning_high_risk_is_reviewed_sooner_with_one_pending_timer(app: Flask) -> None:
    clock.freeze(START)
    client_id = make_client(app)
    schedule(app, client_id)
    with app.app_context():
        db.session.get(Client, client_id).risk_level = "high"
        db.session.commit()
    schedule(app, client_id)
    assert [t.key for t in review_timers(app, client_id)] == [f"review:{client_id}:2026-02"]
    assert [t.status for t in review_timers(app, client_id, None)] == ["pending", "cancelled"]


def test_inactive_clients_are_not_reviewed(app: Flask) -> None:
    clock.freeze(START)
    client_id = make_client(app, risk_level="high")
    schedule(app, client_id)
    with app.app_context():
        db.session.get(Client, client_id).status = "offboarded"
        db.session.commit()
    run_due(app, datetime(2026, 2, 16))
    assert reviews(app, client_id) == [] and review_timers(app, client_id) == []


def test_the_daily_scan_repairs_missing_timers_once(app: Flask) -> None:
    clock.freeze(START)
    active, prospect = make_client(app), make_client(app, status="prospect")
    scheduled = make_client(app)
    schedule(app, scheduled)  # a pending client timer does not keep the scan from being armed
    # The scan is a cron job at 02:30 Asia/Shanghai (18:30 UTC); the first tick arms it.
    run_due(app, START)
    with app.app_context():
        scan = db.session.execute(
            select(Timer).where(Timer.job == SCAN_JOB, Timer.status == "pending")
        ).scalar_one()
        assert scan.due_at == datetime(2026, 1, 15, 18, 30)
    assert review_timers(app, active) == []
    run_due(app, datetime(2026, 1, 15, 18, 30))
    assert [t.key for t in review_timers(app, active)] == [f"review:{active}:2026-04"]
    assert review_timers(app, prospect) == []
    assert len(review_timers(app, scheduled, None)) == 1
    with app.app_context():
        assert daily_scan(db.session, clock.now()) == 0
        db.session.commit()
    assert len(review_timers(app, active, None)) == 1


def test_the_scan_keeps_the_rhythm_of_the_last_review(app: Flask, api: Api) -> None:
    clock.freeze(START)
    client_id = make_client(app)
    r = api.post("risk1", f"/api/v1/clients/{client_id}/due-diligence", json={})
    assert r.status_code == 201
    with app.app_context():
        assert daily_scan(db.session, clock.now()) == 0  # a review is open: nothing to repair
        instance = db.session.get(WorkflowInstance, r.get_json()["id"])
        instance.is_open = False
        db.session.commit()
    clock.freeze(START + timedelta(days=20))
    with app.app_context():
        assert daily_scan(db.session, clock.now()) == 1
        db.session.commit()
    assert review_timers(app, client_id)[0].due_at == datetime(2026, 4, 15, 10, 0)


def test_contract_expiry_reminders_go_out_once_30_days_before_the_end(app: Flask) -> None:
    clock.freeze(START)
    contracts = [
        {"number": "HT-2026-001", "amount": 1_000_000, "start": "2025-03-01", "end": "2026-03-01"},
        {"number": "HT-2025-009", "amount": 50_000, "start": "2025-01-01", "end": "2026-01-01"},
    ]
    client_id = make_client(app, owner="sales1", contracts=contracts)
    schedule(app, client_id)
    schedule(app, client_id)
    with app.app_context():
        reminders = (
            db.session.execute(select(Timer).where(Timer.key.like("contract:%"))).scalars().all()
        )
        assert [(t.key, t.due_at) for t in reminders] == [
            (f"contract:{client_id}:HT-2026-001:2026-03-01", datetime(2026, 1, 30))
        ]

    def reminded() -> list[str]:
        with app.app_context():
            return sorted(
                db.session.execute(
                    select(Notification.username).where(Notification.event == "contract_expiring")
                ).scalars()
            )

    run_due(app, datetime(2026, 1, 29, 23, 59))
    assert reminded() == []
    run_due(app, datetime(2026, 1, 30, 0, 0))
    assert reminded() == ["legal1", "risk1", "risk2", "sales1"]
    with app.app_context():
        title = db.session.execute(
            select(Notification.title).where(Notification.username == "sales1")
        ).scalar_one()
        assert "HT-2026-001" in title and "2026-03-01" in title
        daily_scan(db.session, clock.now())
        db.session.commit()
    run_due(app, datetime(2026, 2, 2))
    assert reminded() == ["legal1", "risk1", "risk2", "sales1"]


def test_a_contract_ending_within_30_days_is_reminded_at_once_and_a_changed_one_is_not(
    app: Flask,
) -> None:
    clock.freeze(START)
    contracts = [{"number": "A", "end": "2026-01-20"}, {"number": "B", "end": "2026-02-01"}]
    client_id = make_client(app, contracts=contracts)
    schedule(app, client_id)
    with app.app_context():
        client = db.session.get(Client, client_id)
        client.contracts = [
            {"number": "A", "end": "2026-01-20"},
            {"number": "B", "end": "2026-12-31"},
        ]
        db.session.commit()
    run_due(app, START)
    with app.app_context():
        titles = (
            db.session.execute(
                select(Notification.title).where(
                    Notification.event == "contract_expiring", Notification.username == "sales1"
                )
            )
            .scalars()
            .all()
        )
    assert len(titles) == 1 and "A of" in titles[0]


def test_an_overdue_review_escalates_to_managers(app: Flask, api: Api) -> None:
    clock.freeze(START)
    case = api.post(
        "risk1", f"/api/v1/clients/{make_client(app)}/due-diligence", json={}
    ).get_json()
    run_due(app, START + timedelta(hours=48))
    detail = api.get("manager1", f"/api/v1/workflows/{case['id']}").get_json()
    assert detail["breached"] is True and detail["data"]["breaches"] == 1
    with app.app_context():
        assert db.session.execute(
            select(Notification.username).where(Notification.event == "sla_breached")
        ).scalars().all() == ["manager1"]


def test_settings_come_from_the_environment(db_url: str, tmp_path, monkeypatch) -> None:  # noqa: ANN001
    from tests.support.app import make_app

    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "env-instance"))
    monkeypatch.setenv("RISKLOOP_REVIEW_MONTHS_HIGH_RISK", "2")
    monkeypatch.setenv("RISKLOOP_EVIDENCE_DIR", str(tmp_path / "vault"))
    app = make_app(db_url, tmp_path)
    try:
        settings = runtime_of(app).settings
        assert (
            settings["RISKLOOP_REVIEW_MONTHS_HIGH_RISK"] == 2
            and settings["RISKLOOP_REVIEW_MONTHS"] == 3
        )
        assert settings["RISKLOOP_EVIDENCE_DIR"] == str(tmp_path / "vault")
        clock.freeze(START)
        client_id = make_client(app, risk_level="high")
        schedule(app, client_id)
        assert review_timers(app, client_id)[0].due_at == datetime(2026, 3, 15, 10, 0)
    finally:
        clock.freeze(None)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
