"""Proofs of graceful shutdown: SIGTERM lets in-flight requests and messages finish.

Work is held in flight by a real row lock: the test takes ``FOR UPDATE`` (or ``FOR NO
KEY UPDATE``) on workflow instances, so transitions through gunicorn and timer
messages in ``riskloop worker`` block inside their transaction exactly where a slow
database would hold them. PostgreSQL's ``pg_stat_activity`` shows how many are
waiting; SIGTERM is sent while they wait, and the lock is released only once the
process has shown it is shutting down.
"""

from __future__ import annotations

import runpy
import signal
import socket
import time
from concurrent.futures import ThreadPoolExecutor
from datetime import timedelta
from urllib.parse import urlsplit

import pytest
import redis
import requests
from sqlalchemy import func, select, text
from sqlalchemy.engine import Connection, Engine

from tests.support import services as sv
from tests.support.e2e_runtime import e2e_runtime
from workflow.background.broker import QUEUE, build_broker, declare_actor
from workflow.engine import firing as wf_engine
from workflow.records import outbox, timers
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, Notification, OutboxMessage, WorkflowInstance

IN_FLIGHT_REQUESTS = 6
WORKER_THREADS = 4
NOTIFY_MESSAGES = 24  # quick messages, queued first
TIMER_MESSAGES = 40  # messages that block on the held instance locks
RISK1 = Actor("risk1", frozenset({"risk_officer"}))
GRACEFUL_TIMEOUT = int(runpy.run_path(str(sv.ROOT / "gunicorn.conf.py"))["graceful_timeout"])


def _lock_waiters(engine: Engine) -> int:
    """Backends of this test's database waiting for a row lock (the held work)."""
    with engine.connect() as conn:
        return conn.scalar(
            text(
                "SELECT count(*) FROM pg_stat_activity "
                "WHERE datname = current_database() AND wait_event_type = 'Lock'"
            )
        )


def _hold_locks(engine: Engine, ids: list[int], mode: str) -> Connection:
    conn = engine.connect()
    conn.begin()
    locked = conn.execute(
        text(f"SELECT id FROM workflow_instances WHERE id = ANY(:ids) {mode}"), {"ids": ids}
    ).all()
    assert len(locked) == len(ids)
    return conn


def _refused(port: int) -> bool:
    try:
        socket.create_connection(("127.0.0.1", port), timeout=1).close()
        return False
    except ConnectionRefusedError:
        return True
    except OSError:
        return False


def test_sigterm_lets_in_flight_requests_finish(stack, tmp_path):
    ids = stack.start_instances(IN_FLIGHT_REQUESTS)
    # One gthread worker per request at most: every request runs, none waits for a thread.
    server, base = sv.gunicorn(
        stack.env, tmp_path, workers=2, threads=IN_FLIGHT_REQUESTS + 2, boot_timeout=180
    )
    port = urlsplit(base).port
    assert port is not None
    try:
        auth = {"Authorization": f"Bearer {sv.token(base, 'risk1')}"}

        def approve(instance_id: int) -> requests.Response:
            return requests.post(
                f"{base}/api/v1/workflows/{instance_id}/actions/approve",
                json={"expected_version": 1, "comment": "approved during shutdown"},
                headers=auth,
                timeout=120,
            )

        with ThreadPoolExecutor(IN_FLIGHT_REQUESTS) as pool:
            holder = _hold_locks(stack.engine, ids, "FOR UPDATE")
            try:
                pending = [pool.submit(approve, i) for i in ids]
                sv.wait_for(
                    lambda: _lock_waiters(stack.engine) == IN_FLIGHT_REQUESTS,
                    180,
                    f"{IN_FLIGHT_REQUESTS} requests to wait on the held rows",
                )
                server.signal(signal.SIGTERM)
                signalled = time.monotonic()
                # New connections are refused while the held requests are still running.
                sv.wait_for(lambda: _refused(port), 60, "new connections to be refused")
                assert _lock_waiters(stack.engine) == IN_FLIGHT_REQUESTS
                assert not any(f.done() for f in pending) and server.alive(), server.tail()
            finally:
                holder.close()  # the slow database answers: the held requests go on
            responses = [f.result() for f in pending]
        # gunicorn SIGKILLs workers still busy after graceful_timeout, which would cut
        # the requests above; exit code 0 with every answer a 200 is the drain done in time.
        exit_code = server.proc.wait(timeout=GRACEFUL_TIMEOUT + 60)
        drained_s = round(time.monotonic() - signalled, 1)
        refused_after = _refused(port)
    finally:
        server.stop()

    assert [r.status_code for r in responses] == [200] * IN_FLIGHT_REQUESTS, [
        (r.status_code, r.text[:200]) for r in responses
    ]
    assert exit_code == 0, server.tail()
    assert refused_after
    with stack.engine.connect() as conn:
        states = conn.execute(
            select(WorkflowInstance.state, WorkflowInstance.version).where(
                WorkflowInstance.id.in_(ids)
            )
        ).all()
        approvals = conn.scalar(
            select(func.count())
            .select_from(AuditRecord)
            .where(AuditRecord.trigger == "approve", AuditRecord.instance_id.in_(ids))
        )
    assert sorted(states) == [("approved", 2)] * IN_FLIGHT_REQUESTS
    assert approvals == IN_FLIGHT_REQUESTS
    sv.riskloop(stack.env, "audit", "verify")
    sv.report(
        "SIGTERM with requests in flight",
        in_flight=IN_FLIGHT_REQUESTS,
        completed_200=IN_FLIGHT_REQUESTS,
        committed=approvals,
        lost=0,
        new_connections="refused while draining",
        gunicorn_exit=exit_code,
        seconds_sigterm_to_exit=drained_s,
        graceful_timeout_s=GRACEFUL_TIMEOUT,
        audit="verified",
    )


# The scheduler's own cron runs (``run_job``: e.g. the minute sweep of unhandled risk
# events) are outbox rows too; the proofs count the work this test caused.
TEST_WORK = OutboxMessage.task != "run_job"


def _statuses(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(
            conn.execute(
                select(OutboxMessage.status, func.count())
                .where(TEST_WORK)
                .group_by(OutboxMessage.status)
            ).all()
        )


@pytest.mark.parametrize("processes", [1, 2], ids=["one-process", "two-processes"])
def test_sigterm_lets_in_flight_messages_finish(stack, tmp_path, processes):
    """With ``--processes 2`` the SIGTERM goes to the parent only (as a process manager
    sends it), which passes it on to its worker processes."""
    ids = stack.start_instances(TIMER_MESSAGES)
    rt = e2e_runtime(stack.engine)  # no outbox sender until the actor is declared below
    with rt.session_factory() as session:
        for instance_id in ids[:NOTIFY_MESSAGES]:  # one quick "notify" message each
            wf_engine.fire(session, instance_id, "flag", RISK1)
            session.commit()
    with stack.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE timers SET due_at = now() at time zone 'utc' - interval '1 minute' "
                "WHERE kind = 'transition' AND status = 'pending'"
            )
        )
    with rt.session_factory() as session:  # one "fire_timer" message per case, queued after
        assert len(timers.claim_due(session)) == TIMER_MESSAGES
        session.commit()
    total = NOTIFY_MESSAGES + TIMER_MESSAGES
    assert _statuses(stack.engine) == {"pending": total}

    with sv.private_redis(tmp_path) as (redis_url, _port, _server):
        broker = build_broker(redis_url)
        declare_actor(broker, rt)
        try:
            assert outbox.relay_once(rt.session_factory, redeliver_after=timedelta(0)) == total
        finally:
            rt.outbox_sender = None
            broker.close()
        queue = redis.Redis.from_url(redis_url)
        queue_key = f"dramatiq:{QUEUE}"
        assert queue.llen(queue_key) == total
        # No scheduler runs: nothing is re-sent by the relay, so whatever the second
        # worker runs came back to the queue from the first one.
        env = stack.with_redis(redis_url, RISKLOOP_BROKER_MAINTENANCE_CHANCE="1000000000")
        holder = _hold_locks(stack.engine, ids, "FOR NO KEY UPDATE")  # blocks fire(), not inserts
        first = sv.worker(
            env,
            tmp_path,
            name="worker-first",
            threads=WORKER_THREADS // processes,
            processes=processes,
        )
        second: sv.Process | None = None
        try:
            sv.wait_for(
                lambda: _lock_waiters(stack.engine) == WORKER_THREADS,
                180,
                "every worker thread to be inside a timer message",
            )
            in_flight = _lock_waiters(stack.engine)
            done_before = _statuses(stack.engine).get("done", 0)
            assert 0 < done_before < total
            first.signal(signal.SIGTERM)
            sv.wait_for(
                lambda: first.tail(20000).count("letting running messages finish") == processes,
                60,
                "every worker process to start shutting down",
            )
            # Shutting down, it waits for the messages it has started.
            assert first.alive() and _lock_waiters(stack.engine) == in_flight
            assert _statuses(stack.engine).get("done", 0) == done_before
            holder.rollback()
            holder.close()
            holder = None
            first_exit = first.proc.wait(timeout=60)
            assert first_exit == 0, first.tail()
            after_stop = _statuses(stack.engine)
            requeued = queue.llen(queue_key)
            assert after_stop.get("done", 0) == done_before + in_flight, after_stop
            assert after_stop.get("pending", 0) == total - done_before - in_flight
            assert requeued == after_stop["pending"], "a message not started was left off the queue"

            second = sv.worker(env, tmp_path, name="worker-second", threads=WORKER_THREADS)
            sv.wait_for(
                lambda: _statuses(stack.engine) == {"done": total},
                180,
                "the restarted worker to finish the rest",
                interval=0.5,
            )
            second_exit = second.stop()
            assert second_exit == 0, second.tail()
        finally:
            if holder is not None:
                holder.close()
            first.stop()
            if second is not None:
                second.stop()

    with rt.session_factory() as s:
        rerun = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.attempts != 1, TEST_WORK)
        )
        notified = s.scalar(select(func.count(func.distinct(Notification.outbox_id))))
        notifications = s.scalar(select(func.count()).select_from(Notification))
        escalations = dict(
            s.execute(
                select(AuditRecord.instance_id, func.count())
                .where(AuditRecord.trigger == "escalate")
                .group_by(AuditRecord.instance_id)
            ).all()
        )
    managers = 1  # manager1 (tests.support.app.USERS)
    assert rerun == 0, "a message's effect was committed twice"
    assert notified == NOTIFY_MESSAGES and notifications == NOTIFY_MESSAGES * managers
    assert set(escalations) == set(ids) and set(escalations.values()) == {1}
    sv.riskloop(stack.env, "audit", "verify")
    sv.report(
        "SIGTERM with messages in flight",
        worker_processes=processes,
        messages=total,
        done_before_sigterm=done_before,
        in_flight_at_sigterm=in_flight,
        finished_after_sigterm=in_flight,
        requeued_not_started=requeued,
        worker_exit=first_exit,
        done_by_restarted_worker=total - done_before - in_flight,
        lost=0,
        duplicated=0,
        audit="verified",
    )
