"""Embedded mode (SQLite file database): a backtest reads a snapshot without the write lock,
so other requests write while it runs, and its progress is readable mid-run.

The backtest runs on a background thread (a thread draining the outbox, or the embedded
Dramatiq worker of ``riskloop run``) and is held after its first chunk by a progress
listener until the test lets it go on: what is checked mid-run depends on no timing.
"""

from __future__ import annotations

import threading
from collections.abc import Iterator

import pytest
from flask import Flask
from sqlalchemy import func, select, text

from api.extensions import db
from api.worker import EmbeddedServices
from tests.support.alerts import make_client
from tests.support.app import Api, drain
from tests.support.config_changes import active_content, draft, soe_threshold_70
from tests.support.onboarding import new_client
from tests.support.services import wait_for
from workflow.platform.db import keeps_snapshots, read_only_session
from workflow.records.models import OutboxMessage, WorkflowInstance
from workflow.risk.clients.model import Client
from workflow.risk.governance import progress, rating_replay

pytestmark = pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
WAIT = 60  # seconds: only reached when something is broken


class Hold:
    """A progress listener that holds a backtest (change ``change_id``'s, or the first one
    it hears of) after its first chunk until :attr:`released` is set."""

    def __init__(self, change_id: int | None = None) -> None:
        self.change_id = change_id
        self.reached = threading.Event()
        self.released = threading.Event()
        self.seen: list[tuple[int, int]] = []

    def __call__(self, change_id: int, done: int, total: int) -> None:
        if self.change_id is None:
            self.change_id = change_id
        if change_id != self.change_id:
            return
        self.seen.append((done, total))
        if len(self.seen) == 1:
            self.reached.set()
            assert self.released.wait(WAIT), "the test never let the backtest go on"


class Run(Hold):
    """Change ``change_id``'s backtest on a worker thread (draining the outbox), held after
    its first chunk until :meth:`finish` lets it go on and waits for the worker."""

    def __init__(self, app: Flask, change_id: int) -> None:
        super().__init__(change_id)
        self.failures: list[BaseException] = []
        self.thread = threading.Thread(target=self._work, args=(app,), daemon=True)

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


def test_through_the_embedded_worker_requests_write_while_the_backtest_runs(
    live: Flask, small_chunks: None
) -> None:
    """The in-process Dramatiq worker and scheduler of ``riskloop run``, nothing drained."""
    api = Api(live.test_client())
    for _ in range(5):
        make_client(live)
    content = soe_threshold_70(active_content(api)["content"])
    hold = Hold()
    stop = progress.listen(hold)
    services = EmbeddedServices(live, threads=2, interval=0.2)
    services.start()
    try:
        r = draft(api, "rule_set", content)  # its commit hands the task to the worker
        assert r.status_code == 201, r.get_json()
        change_id = r.get_json()["id"]
        assert hold.reached.wait(WAIT), "the embedded worker never reported progress"
        assert hold.change_id == change_id
        seen = _progress(api, change_id)
        assert (seen["state"], seen["done"], seen["total"], seen["running"]) == (
            "backtesting",
            2,
            5,
            True,
        )
        new_client(api, 72)  # a request that writes while the backtest is held
        hold.released.set()
        wait_for(
            lambda: _progress(api, change_id)["state"] == "awaiting_approval",
            WAIT,
            "the backtest's outcome",
        )
    finally:
        hold.released.set()
        services.stop()
        stop()
    final = _progress(api, change_id)
    assert (final["done"], final["total"], final["running"]) == (5, 5, False)


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
