"""Proof 5 — two ``riskloop scheduler`` processes over 1,000 due timers: each fires once."""

from __future__ import annotations

import time
from collections import Counter
from concurrent.futures import ThreadPoolExecutor

from sqlalchemy import func, select, text
from sqlalchemy.orm import sessionmaker

from tests.support import services as sv
from tests.support.e2e_runtime import e2e_runtime
from workflow.background import runner as tasks
from workflow.records.models import AuditRecord, OutboxMessage, Timer

TIMERS = 1000


def test_two_schedulers_fire_each_due_timer_once(stack, tmp_path):
    ids = stack.start_instances(TIMERS)
    # No REDIS_URL: the schedulers' sends go to an in-process stub, so every claimed
    # timer stays visible as a pending outbox row until this test runs it. Both are
    # running before any timer is due, so they race for every one of them (on a loaded
    # machine one could otherwise claim them all while the other is still starting).
    unbuffered = dict(stack.env, PYTHONUNBUFFERED="1")  # "scheduler started" reaches the log
    pair = [
        sv.scheduler(unbuffered, tmp_path, name=f"scheduler-{i}", interval=0.05) for i in (1, 2)
    ]
    factory = sessionmaker(stack.engine)
    try:
        sv.wait_for(
            lambda: all("scheduler started" in proc.tail() for proc in pair),
            90,
            "both schedulers to start",
        )
        with stack.engine.begin() as conn:
            armed = conn.execute(
                text(
                    "UPDATE timers SET due_at = now() at time zone 'utc' - interval '1 minute' "
                    "WHERE kind = 'transition' AND status = 'pending'"
                )
            ).rowcount
        assert armed == TIMERS
        started = time.perf_counter()

        def all_claimed() -> bool:
            for proc in pair:
                assert proc.alive(), proc.tail()
            with factory() as s:
                return (
                    s.scalar(
                        select(func.count())
                        .select_from(Timer)
                        .where(Timer.kind == "transition", Timer.status == "pending")
                    )
                    == 0
                )

        sv.wait_for(all_claimed, 90, "the schedulers to claim every due timer")
    finally:
        codes = [proc.stop() for proc in pair]  # both stopped before anything is asserted
        assert codes == [0, 0], "\n".join(proc.tail() for proc in pair)
    claim_seconds = time.perf_counter() - started
    with factory() as s:
        per_timer = Counter(
            args["timer_id"]
            for args in s.execute(
                select(OutboxMessage.args).where(OutboxMessage.task == "fire_timer")
            ).scalars()
        )
    assert len(per_timer) == TIMERS and set(per_timer.values()) == {1}

    rt = e2e_runtime(stack.engine)
    with factory() as s:
        queued = list(
            s.execute(select(OutboxMessage.id).where(OutboxMessage.status == "pending")).scalars()
        )
    with ThreadPoolExecutor(4) as pool:  # as four worker threads would
        list(
            pool.map(
                lambda i: tasks.run_message(rt.session_factory, rt.catalog.registry, i), queued
            )
        )
    with factory() as s:
        escalations = dict(
            s.execute(
                select(AuditRecord.instance_id, func.count())
                .where(AuditRecord.trigger == "escalate")
                .group_by(AuditRecord.instance_id)
            ).all()
        )
        pending = s.scalar(
            select(func.count()).select_from(OutboxMessage).where(OutboxMessage.status != "done")
        )
    assert set(escalations) == set(ids) and set(escalations.values()) == {1}
    assert pending == 0
    sv.riskloop(stack.env, "audit", "verify")
    sv.report(
        "scheduler pair",
        schedulers=2,
        due_timers=TIMERS,
        claimed_once=len(per_timer),
        double_claims=0,
        escalations=sum(escalations.values()),
        lost=0,
        claim_seconds=round(claim_seconds, 1),
        audit="verified",
    )
