"""Proof 4 — database restart under load: requests fail fast with 503 while PostgreSQL is
down and the service recovers on its own. A private cluster (initdb) on its own port is
restarted; the shared server is never touched."""

from __future__ import annotations

import threading
import time

import requests

from tests.support import services as sv
from tests.support.stack import migrated_stack


def test_postgres_restart_gives_fast_503_then_recovers(tmp_path):
    cluster = sv.PrivatePostgres()
    cluster.start()
    try:
        stack = migrated_stack(cluster.url, tmp_path)
        ids = stack.start_instances(20)
        stack.engine.dispose()
        web, base = sv.gunicorn(stack.env, tmp_path, workers=2, threads=4)
        samples: list[tuple[str, int, float]] = []
        phase = "before"
        stop = threading.Event()
        try:
            auth = {"Authorization": f"Bearer {sv.token(base, 'risk1')}"}

            def load() -> None:
                http = requests.Session()
                n = 0
                while not stop.is_set():
                    began, at = time.perf_counter(), phase
                    if n % 2:
                        r = http.post(
                            f"{base}/api/v1/workflows/{ids[n % len(ids)]}/actions/flag",
                            json={},
                            headers=auth,
                            timeout=30,
                        )
                    else:
                        r = http.get(
                            f"{base}/api/v1/workflows/{ids[n % len(ids)]}", headers=auth, timeout=30
                        )
                    # A request that straddles a phase change (e.g. began just before the
                    # database stopped) belongs to neither phase's expectations.
                    samples.append(
                        (
                            at if phase == at else "between",
                            r.status_code,
                            time.perf_counter() - began,
                        )
                    )
                    if r.status_code == 503:
                        assert r.headers["Content-Type"].startswith("application/problem+json")
                        assert r.headers.get("Retry-After")
                    n += 1
                    time.sleep(0.05)

            threads = [threading.Thread(target=load) for _ in range(2)]
            for t in threads:
                t.start()
            time.sleep(2)
            phase = "stopping"
            cluster.stop()
            phase = "down"
            time.sleep(5)
            ready_down = requests.get(base + "/readyz", timeout=10).status_code
            phase = "starting"
            cluster.start()
            restarted = time.monotonic()
            phase = "restarted"

            def healthy() -> bool:
                recent = [s for p, s, _ in samples[-6:] if p == "restarted"]
                return len(recent) >= 6 and set(recent) == {200}

            sv.wait_for(healthy, 60, "requests to succeed again without restarting gunicorn")
            recovery = time.monotonic() - restarted
            stop.set()
            for t in threads:
                t.join(30)
        finally:
            stop.set()
            assert web.stop() == 0, web.tail()
        down = [(s, d) for p, s, d in samples if p == "down"]
        assert down and {s for s, _ in down} == {503}, sorted({s for s, _ in down})
        slowest = max(d for _, d in down)
        assert slowest < 5.0, f"a request took {slowest:.1f} s while the database was down"
        assert {s for p, s, _ in samples if p == "before"} == {200}
        assert ready_down == 503
        sv.riskloop(stack.env, "audit", "verify")
        sv.report(
            "database restart",
            requests=len(samples),
            during_outage=len(down),
            outage_status="503",
            slowest_503_seconds=round(slowest, 2),
            recovered_after_seconds=round(recovery, 1),
            gunicorn_restarted="no",
            audit="verified",
        )
    finally:
        cluster.destroy()
