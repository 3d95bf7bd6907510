"""Embedded mode (SQLite file database): a backtest reads a snapshot without the write lock,
so other requests write while it runs, and its progress is readable mid-run.

The backtest runs in a background thread (the worker) and is paused mid-way by a progress
listener until the test lets it go on: nothing depends on timing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from api.extensions import db
from tests.support.alerts import make_client
from tests.support.app import Api, drain
from tests.support.config_changes import active_content, draft, soe_threshold_70
from tests.support.onboarding import new_client
from workflow.platform.db import keeps_snapshots, read_only_session
from workflow.records.models import OutboxMessage, WorkflowInstance
from workflow.risk.clients.model import Client
from workflow.risk.governance import progress, rating_replay

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
WAIT = 60  # seconds: only reached when something is broken


class Run:
    """Change ``change_id``'s backtest on a worker thread, held by a progress listener at
    its first chunk until :meth:`finish` lets it go on and waits for the worker."""

    def __init__(self, app: Flask, change_id: int) -> None:
        self.change_id = change_id
        self.reached = threading.Event()
        self.released = threading.Event()
        self.seen: list[tuple[int, int]] = []
        self.failures: list[BaseException] = []
        self.thread = threading.Thread(target=self._work, args=(app,), daemon=True)

    def __call__(self, change_id: int, done: int, total: int) -> None:
        if change_id != self.change_id:
            return
        self.seen.append((done, total))
        if len(self.seen) == 1:
            self.reached.set()
            assert self.released.wait(WAIT), "the test never let the backtest go on"

    def _work(self, app: Flask) -> None:
        try:
            drain(app)
        except BaseException as exc:  # surfaced by finish()
            self.failures.append(exc)

    def start(self) -> None:
        self.thread.start()
        assert self.reached.wait(WAIT), f"the backtest never reported progress: {self.failures}"

    def finish(self) -> None:
        self.released.set()
        self.thread.join(WAIT)
        assert not self.thread.is_alive(), "the backtest did not finish"
        assert not self.failures, self.failures


@pytest.fixture
def small_chunks(monkeypatch: pytest.MonkeyPatch) -> None:
    """Re-rate two clients a chunk, so that a handful of clients make several chunks."""
    monkeypatch.setattr(rating_replay, "CHUNK", 2)


def _progress(api: Api, change_id: int) -> dict:
    r = api.get("manager1", f"/api/v1/config/changes/{change_id}/progress")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


@pytest.fixture
def running(app: Flask, api: Api, small_chunks: None) -> Iterator[Run]:
    """A rule-set change over 5 rated clients whose backtest runs on a worker thread,
    held after its first chunk (2 of 5)."""
    for _ in range(5):
        make_client(app)
    r = draft(api, "rule_set", soe_threshold_70(active_content(api)["content"]))
    assert r.status_code == 201, r.get_json()
    run = Run(app, r.get_json()["id"])
    stop = progress.listen(run)
    try:
        run.start()
        yield run
    finally:
        run.released.set()
        run.thread.join(WAIT)
        stop()


def test_requests_write_while_the_backtest_runs_and_read_its_progress(
    app: Flask, api: Api, running: Run
) -> None:
    change_id = running.change_id
    # The backtest is held mid-run on the worker thread, its snapshot open. Were it holding
    # the write lock, each write below would wait the busy timeout (30 s) and fail.
    seen = _progress(api, change_id)
    assert seen["state"] == "backtesting" and seen["running"] is True
    assert (seen["done"], seen["total"]) == (2, 5)
    assert 0 < seen["done"] < seen["total"] and seen["updated_at"] is not None

    created = new_client(api, 71)  # a request that writes (client, audit, outbox)
    assert api.get("sales1", f"/api/v1/clients/{created}").status_code == 200
    late = make_client(app)  # a rated client written after the backtest's snapshot began

    running.finish()
    final = _progress(api, change_id)
    assert final["state"] == "awaiting_approval", final
    assert (final["done"], final["total"], final["running"]) == (5, 5, False)
    assert running.seen == [(2, 5), (4, 5), (5, 5)]

    change = api.get("risk1", f"/api/v1/workflows/{change_id}").get_json()
    report = change["data"]["backtest"]["report"]
    # one snapshot: the client written mid-run is in none of the later chunks
    assert report["clients"] == 5
    assert late not in {m["client_id"] for m in report["movers"]}
    assert change["data"]["backtest"]["hash"]


def test_a_change_withdrawn_while_its_backtest_runs_stays_withdrawn(
    app: Flask, api: Api, running: Run
) -> None:
    change_id = running.change_id
    change = api.get("risk1", f"/api/v1/workflows/{change_id}").get_json()
    r = api.act("risk1", change_id, "withdraw", expected_version=change["version"])
    assert r.status_code == 200, r.get_json()
    running.finish()
    # the worker's final transaction finds the change gone from backtesting: no outcome
    # is stored over the withdrawal and the task is done (no retry, no incident)
    with app.app_context():
        status = db.session.execute(
            select(OutboxMessage.status).where(
                OutboxMessage.instance_id == change_id, OutboxMessage.task == "config_backtest"
            )
        ).scalar_one()
        db.session.rollback()
    assert status == "done"
    after = api.get("risk1", f"/api/v1/workflows/{change_id}").get_json()
    assert after["state"] == "withdrawn", after["state"]
    assert "report" not in (after["data"]["backtest"] or {})
    assert not after["data"].get("incidents")


def test_the_worker_lets_go_of_the_write_lock_and_keeps_its_message_alive(
    app: Flask, api: Api, running: Run
) -> None:
    change_id = running.change_id
    with app.app_context():
        message = db.session.execute(
            select(OutboxMessage).where(
                OutboxMessage.instance_id == change_id, OutboxMessage.task == "config_backtest"
            )
        ).scalar_one()
        # pending while it runs, its sent_at moved by the progress write (the relay's
        # 30 s redelivery would hand a live backtest to a second worker otherwise)
        assert message.status == "pending"
        assert message.sent_at is not None and message.sent_at >= message.created_at
        db.session.rollback()


def test_a_read_only_session_reads_a_snapshot_and_refuses_writes(app: Flask) -> None:
    make_client(app)
    with app.app_context():
        assert keeps_snapshots(db.session)
        db.session.rollback()
        with read_only_session(db.session) as reader:
            before = len(reader.execute(select(WorkflowInstance.id)).all())
            clients = reader.execute(select(func.count()).select_from(Client)).scalar_one()
            make_client(app)  # another connection writes beside the open reader
            again = reader.execute(select(func.count()).select_from(Client)).scalar_one()
            assert again == clients  # the reader's snapshot
            assert len(reader.execute(select(WorkflowInstance.id)).all()) == before
            with pytest.raises(Exception, match="readonly|read-only|query_only"):
                reader.execute(text("DELETE FROM clients"))
        # the pooled connection writes again once the reader is done
        make_client(app)
        db.session.rollback()
