"""Proof 3 — broker outage: Redis stopped for 10 s while transitions keep coming through
gunicorn. The API keeps answering, no message is lost, all are delivered after Redis
returns (the outbox relay in ``riskloop scheduler`` re-sends what the broker missed)."""

from __future__ import annotations

import threading
import time

import requests
from sqlalchemy import func, select

from tests.support import services as sv
from workflow.records.models import Notification, OutboxMessage

OUTAGE_SECONDS = 10


# The scheduler's own cron runs (``run_job``: e.g. the minute sweep of unhandled risk
# events) are outbox rows too; the proofs count the work this test caused.
TEST_WORK = OutboxMessage.task != "run_job"


def test_redis_outage_loses_no_message(stack, tmp_path):
    ids = stack.start_instances(40)
    with sv.private_redis(tmp_path) as (redis_url, port, server):
        env = stack.with_redis(redis_url, RISKLOOP_OUTBOX_REDELIVER_SECONDS="2")
        web, base = sv.gunicorn(env, tmp_path, workers=2, threads=4)
        relay = sv.scheduler(env, tmp_path, interval=0.2)
        worker = sv.worker(env, tmp_path, threads=4)
        restarted: sv.Process | None = None
        statuses: dict[str, list[int]] = {"before": [], "outage": [], "after": []}
        ready_during: list[int] = []
        phase = "before"
        stop = threading.Event()
        try:
            auth = {"Authorization": f"Bearer {sv.token(base, 'risk1')}"}
            http = requests.Session()

            def traffic() -> None:
                n = 0
                while not stop.is_set():
                    case = ids[n % len(ids)]
                    r = http.post(
                        f"{base}/api/v1/workflows/{case}/actions/flag",
                        json={},
                        headers=auth,
                        timeout=10,
                    )
                    statuses[phase].append(r.status_code)
                    n += 1
                    time.sleep(0.05)

            sender = threading.Thread(target=traffic)
            sender.start()
            time.sleep(3)
            phase = "outage"
            server.stop()
            outage_started = time.monotonic()
            while time.monotonic() - outage_started < OUTAGE_SECONDS:
                ready_during.append(requests.get(base + "/readyz", timeout=5).status_code)
                time.sleep(1)
            restarted = sv.start_redis_again(tmp_path, port)
            phase = "after"
            time.sleep(3)
            stop.set()
            sender.join(30)
            ready_after = sv.wait_for(
                lambda: requests.get(base + "/readyz", timeout=5).status_code == 200,
                30,
                "/readyz to recover",
            )

            def delivered() -> bool:
                with stack.engine.connect() as conn:
                    return (
                        conn.scalar(
                            select(func.count())
                            .select_from(OutboxMessage)
                            .where(OutboxMessage.status != "done")
                        )
                        == 0
                    )

            sv.wait_for(
                delivered, 90, "every message to be delivered after Redis returned", interval=0.5
            )
        finally:
            stop.set()
            for proc in (worker, relay, web):
                proc.stop()
            if restarted is not None:
                restarted.stop()

    sent = {k: len(v) for k, v in statuses.items()}
    answered = [s for v in statuses.values() for s in v]
    assert sent["outage"] >= 20, sent
    assert set(answered) == {200}, {s: answered.count(s) for s in set(answered)}
    assert 503 in ready_during and ready_after
    with stack.engine.connect() as conn:
        notifications = conn.scalar(select(func.count()).select_from(Notification))
        messages = conn.scalar(select(func.count()).select_from(OutboxMessage).where(TEST_WORK))
    assert messages == len(answered) and notifications == len(answered)
    sv.riskloop(stack.env, "audit", "verify")
    sv.report(
        "broker outage",
        outage_seconds=OUTAGE_SECONDS,
        transitions=len(answered),
        during_outage=sent["outage"],
        non_200=0,
        messages=messages,
        delivered=notifications,
        lost=0,
        readyz_during="503",
        audit="verified",
    )
