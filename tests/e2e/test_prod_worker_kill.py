"""Proof 2 — ``riskloop worker`` killed with SIGKILL in the middle of messages 20 times:
every timer and notification still takes effect exactly once.

Four workers run against a private redis-server; again and again the oldest is
killed while messages are queued and a new one is started. Dramatiq's heartbeat
(2 s here) hands a dead worker's unacknowledged messages back, and the outbox
relay re-sends anything still pending; each message's effect is committed with
its ``done`` mark, so a redelivery is a no-op.
"""

from __future__ import annotations

import os
import signal
import time

from sqlalchemy import func, select, text

from tests.support import services as sv
from tests.support.e2e_runtime import e2e_runtime
from workflow.engine import firing as wf_engine
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, Notification, OutboxMessage

KILLS = 20
INSTANCES = 100
FLAGS_PER_INSTANCE = 2
ROTATION = 4  # workers alive at once; the oldest is the next to die
# Fewer messages left than this before a kill: queue more (new cases, two flags each), so
# every kill lands mid-stream however fast the workers are.
TOP_UP_BELOW = 60
TOP_UP_INSTANCES = 50
RISK1 = Actor("risk1", frozenset({"risk_officer"}))


# The scheduler's own cron runs (``run_job``: e.g. the minute sweep of unhandled risk
# events) are outbox rows too; the proofs count the work this test caused.
TEST_WORK = OutboxMessage.task != "run_job"


def _counts(engine) -> tuple[int, int]:  # noqa: ANN001
    with engine.connect() as conn:
        done = conn.scalar(text("SELECT count(*) FROM outbox WHERE status = 'done'"))
        total = conn.scalar(text("SELECT count(*) FROM outbox"))
    return done, total


def test_workers_killed_mid_message_lose_and_repeat_nothing(stack, tmp_path):
    ids = stack.start_instances(INSTANCES)
    rt = e2e_runtime(stack.engine)
    # No outbox sender on this runtime: the scheduler's relay hands every message to Redis.
    with rt.session_factory() as session:
        for instance_id in ids:
            for _ in range(FLAGS_PER_INSTANCE):
                wf_engine.fire(session, instance_id, "flag", RISK1)
                session.commit()
    with stack.engine.begin() as conn:
        conn.execute(
            text(
                "UPDATE timers SET due_at = now() at time zone 'utc' - interval '1 minute' "
                "WHERE kind = 'transition' AND status = 'pending'"
            )
        )
    flags = INSTANCES * FLAGS_PER_INSTANCE

    with sv.private_redis(tmp_path) as (redis_url, _port, _server):
        env = stack.with_redis(
            redis_url,
            RISKLOOP_BROKER_HEARTBEAT_MS="2000",
            RISKLOOP_BROKER_MAINTENANCE_CHANCE="200000",
            RISKLOOP_OUTBOX_REDELIVER_SECONDS="5",
        )
        relay = sv.scheduler(env, tmp_path, interval=0.2)
        workers = [sv.worker(env, tmp_path, name=f"worker-{n}", threads=2) for n in range(ROTATION)]
        spawned = ROTATION
        top_ups = 0
        kills_mid_message = 0
        started = time.perf_counter()
        try:

            def booted(proc: sv.Process) -> bool:
                assert proc.alive() or proc.proc.returncode == -signal.SIGKILL, proc.tail()
                return "worker started" in proc.log_path.read_text(errors="replace")

            def top_up() -> int:
                more = stack.start_instances(TOP_UP_INSTANCES)
                with rt.session_factory() as session:
                    for instance_id in more:
                        for _ in range(FLAGS_PER_INSTANCE):
                            wf_engine.fire(session, instance_id, "flag", RISK1)
                            session.commit()
                return len(more) * FLAGS_PER_INSTANCE

            while kills_mid_message < KILLS:
                victim = workers[0]
                sv.wait_for(lambda v=victim: booted(v), 180, "a worker to boot")
                before, total = _counts(stack.engine)
                if total - before < TOP_UP_BELOW:
                    flags += top_up()
                    top_ups += 1
                    before, total = _counts(stack.engine)
                assert before < total
                # Let it take and start messages, then kill it without warning.
                sv.wait_for(lambda b=before: _counts(stack.engine)[0] > b, 180, "progress")
                os.killpg(victim.pid, signal.SIGKILL)
                victim.proc.wait(10)
                victim.stop()
                kills_mid_message += 1
                workers = [
                    *workers[1:],
                    sv.worker(env, tmp_path, name=f"worker-{spawned}", threads=2),
                ]
                spawned += 1
            killed_at = _counts(stack.engine)
            sv.wait_for(
                lambda: (lambda d, t: d == t)(*_counts(stack.engine)),
                180,
                "every message to be done after the last kill",
                interval=0.5,
            )
        finally:
            for proc in [*workers, relay]:
                proc.stop()
        elapsed = time.perf_counter() - started

    with rt.session_factory() as s:
        statuses = dict(
            s.execute(
                select(OutboxMessage.status, func.count())
                .where(TEST_WORK)
                .group_by(OutboxMessage.status)
            ).all()
        )
        notifications = s.scalar(select(func.count()).select_from(Notification))
        notified_messages = s.scalar(select(func.count(func.distinct(Notification.outbox_id))))
        notify_messages = s.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.task == "notify")
        )
        escalations = dict(
            s.execute(
                select(AuditRecord.instance_id, func.count())
                .where(AuditRecord.trigger == "escalate")
                .group_by(AuditRecord.instance_id)
            ).all()
        )
        rerun = s.scalar(
            select(func.count())
            .select_from(OutboxMessage)
            .where(OutboxMessage.attempts != 1, TEST_WORK)
        )
    assert statuses == {"done": flags + INSTANCES}  # one notify per flag, one fire_timer per case
    assert notify_messages == flags and notifications == flags and notified_messages == flags
    assert set(escalations) == set(ids) and set(escalations.values()) == {1}
    assert rerun == 0, "a message's effect was committed twice (attempts != 1)"
    sv.riskloop(stack.env, "audit", "verify")
    sv.report(
        "worker killed",
        kills=KILLS,
        workers_started=spawned,
        top_ups=top_ups,
        messages=sum(statuses.values()),
        done_when_last_killed=killed_at[0],
        notifications=notifications,
        timers_fired=len(escalations),
        lost=0,
        duplicated=0,
        seconds=round(elapsed, 1),
        audit="verified",
    )
