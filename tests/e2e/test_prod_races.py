"""Proof 1 — races: two approvers fire the same action at the same version through
gunicorn, 200 rounds: exactly one 200 and one 409 each round, and the audit verifies."""

from __future__ import annotations

import threading
import time
from concurrent.futures import ThreadPoolExecutor

import requests

from tests.support import services as sv

ROUNDS = 200


def test_two_approvers_race_through_gunicorn(stack, tmp_path):
    ids = stack.start_instances(ROUNDS)
    server, base = sv.gunicorn(stack.env, tmp_path, workers=2, threads=4)
    try:
        tokens = {u: sv.token(base, u) for u in ("risk1", "manager1")}
        sessions = {u: requests.Session() for u in tokens}
        barrier = threading.Barrier(2)

        def approve(user: str, instance_id: int) -> int:
            barrier.wait(timeout=10)
            r = sessions[user].post(
                f"{base}/api/v1/workflows/{instance_id}/actions/approve",
                json={"expected_version": 1},
                headers={"Authorization": f"Bearer {tokens[user]}"},
                timeout=30,
            )
            assert r.status_code in (200, 409), (r.status_code, r.text)
            if r.status_code == 409:
                assert r.headers["Content-Type"].startswith("application/problem+json")
            return r.status_code

        started = time.perf_counter()
        outcomes = []
        with ThreadPoolExecutor(2) as pool:
            for instance_id in ids:
                a = pool.submit(approve, "risk1", instance_id)
                b = pool.submit(approve, "manager1", instance_id)
                outcomes.append(sorted((a.result(), b.result())))
        elapsed = time.perf_counter() - started
    finally:
        assert server.stop() == 0, server.tail()

    bad = [(i, o) for i, o in zip(ids, outcomes, strict=True) if o != [200, 409]]
    assert not bad, f"rounds without exactly one 200 and one 409: {bad[:5]}"
    verified = sv.riskloop(stack.env, "audit", "verify")
    assert "audit trail verified" in verified.stdout
    sv.report(
        "races",
        rounds=ROUNDS,
        requests=2 * ROUNDS,
        ok_200=ROUNDS,
        conflicts_409=ROUNDS,
        double_approvals=0,
        seconds=round(elapsed, 1),
        audit="verified",
        gunicorn_exit="0 after SIGTERM",
    )
