"""A backtest's progress is readable while it runs on PostgreSQL (written to the case by a
short transaction of its own while the task's transaction is still open). A reporter that
is not live (SQLite's default, for a caller holding the write lock) leaves the progress to
the outcome; the embedded-mode backtest, which holds no lock and reports live, is
tests/api/test_backtest_embedded.py."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from api.extensions import db, runtime_of
from tests.support.alerts import make_client
from tests.support.app import Api, drain
from tests.support.config_changes import active_content, draft, soe_threshold_70
from workflow.records.models import WorkflowInstance
from workflow.risk.clients.model import Client
from workflow.risk.governance.progress import Reporter


def progress_of(api: Api, change_id: int, user: str = "manager1") -> dict:
    r = api.get(user, f"/api/v1/config/changes/{change_id}/progress")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_progress_is_read_while_the_backtest_runs_then_with_the_outcome(
    app: Flask, api: Api
) -> None:
    clients = [make_client(app) for _ in range(3)]
    r = draft(api, "rule_set", soe_threshold_70(active_content(api)["content"]))
    assert r.status_code == 201, r.get_json()
    change_id = r.get_json()["id"]
    assert progress_of(api, change_id) == {
        "change_id": change_id,
        "state": "backtesting",
        "done": 0,
        "total": 0,
        "running": False,
        "updated_at": None,
        "outcome": "waiting",
        "finished": False,
        "reason": None,
    }

    rt = runtime_of(app)
    other_engine = create_engine(app.config["SQLALCHEMY_DATABASE_URI"])
    task = rt.session_factory()  # the task's transaction: it read the case and stays open
    try:
        assert task.get(WorkflowInstance, change_id) is not None
        reporter = Reporter(task, change_id)
        reporter(40, 100)
        if other_engine.dialect.name == "postgresql":
            # another process (its own engine) reads the case while the task's transaction
            # is open, and so does the API
            with sessionmaker(other_engine)() as other:
                stored = other.get(WorkflowInstance, change_id).data["backtest"]
            assert stored["progress"]["done"] == 40 and stored["progress"]["running"]
            seen = progress_of(api, change_id)
            assert (seen["done"], seen["total"], seen["running"]) == (40, 100, True)
            assert seen["updated_at"] is not None
        task.rollback()  # the task's own transaction is untouched by the progress write
        if other_engine.dialect.name == "sqlite":
            # the task's transaction held the write lock: nothing was written meanwhile
            assert progress_of(api, change_id)["running"] is False
    finally:
        task.close()
        other_engine.dispose()

    drain(app)  # the real backtest: every client re-rated, the outcome with its progress
    final = progress_of(api, change_id)
    assert final["state"] == "awaiting_approval" and final["running"] is False
    assert final["total"] == len(clients) and final["done"] == final["total"]
    assert (final["outcome"], final["finished"], final["reason"]) == ("done", True, None)


def test_a_failed_backtest_says_so_with_its_reason(app: Flask, api: Api) -> None:
    """The case stays in ``backtesting`` (it cannot be published), but the progress says
    the backtest ended: failed, and why."""
    clients = [make_client(app) for _ in range(2)]
    with app.app_context():
        bad = db.session.get(Client, clients[-1])
        assert bad is not None
        bad.rating, bad.facts = "A", {"litigation_count": "many"}  # stored bad data
        db.session.commit()
        db.session.remove()
    r = draft(api, "rule_set", soe_threshold_70(active_content(api)["content"]))
    assert r.status_code == 201, r.get_json()
    change_id = r.get_json()["id"]
    drain(app)

    failed = progress_of(api, change_id, "auditor1")
    assert failed["state"] == "backtesting" and failed["running"] is False
    assert failed["outcome"] == "failed" and failed["finished"] is True
    assert f"client {clients[-1]}" in failed["reason"] and "litigation_count" in failed["reason"]

    assert api.act("risk1", change_id, "withdraw").status_code == 200
    withdrawn = progress_of(api, change_id)
    assert withdrawn["state"] == "withdrawn" and withdrawn["outcome"] == "failed"


def test_progress_needs_a_reader_of_configuration_and_a_change(app: Flask, api: Api) -> None:
    r = draft(api, "rule_set", soe_threshold_70(active_content(api)["content"]))
    change_id = r.get_json()["id"]
    assert api.get("sales1", f"/api/v1/config/changes/{change_id}/progress").status_code == 403
    missing = api.get("manager1", f"/api/v1/config/changes/{change_id + 999}/progress")
    assert missing.status_code == 404 and "configuration change" in missing.get_json()["detail"]
