"""CPU per approve and per ``fire()`` in one process, with an optional profile.

Not a section of ``bench.run``: a tool for cutting the hot path (issue #20). On a bench
database of its own it measures, one client at a time:

- ``approve``: ``POST /api/v1/workflows/{id}/actions/approve`` with ``{}`` through the
  Flask test client of the production app (PostgreSQL, Redis), the thread's CPU
  (``time.thread_time``) and the process's (every thread: the outbox sender's too)
  per request;
- ``fire``: ``fire()`` through ``transact``, as ``bench.per_transition`` does, with the
  bare-SQL transaction alternated beside it.

CPU time, not wall time, so that other load on the machine changes little.
- ``bare``: the HTTP baseline's approve (``bench.bare_flask``) through its own test
  client, as ``approve`` is measured.

``python -m bench.hot_profile approve|fire|bare [n] [--profile]``; ``--profile`` prints
cProfile's top functions (cumulative, on thread CPU time) of a second run.
"""

from __future__ import annotations

import cProfile
import os
import pstats
import sys
import time
from collections.abc import Callable
from typing import Any

import psycopg

from . import app_env, bare_sql, database, engine_fire
from .config import load


def _approver(client: Any, lo: int, hi: int, headers: dict[str, str]) -> Callable[[], None]:
    """One approve per call through a Flask test client, on instances ``lo``..``hi`` in turn."""
    counter = [0]

    def step() -> None:
        counter[0] += 1
        iid = lo + counter[0] % (hi - lo + 1)
        r = client.post(f"/api/v1/workflows/{iid}/actions/approve", data=b"{}", headers=headers)
        if r.status_code != 200:
            raise RuntimeError(f"{r.status_code}: {r.get_data(as_text=True)[:300]}")

    return step


def _measure(step: Callable[[], None], n: int) -> dict[str, float]:
    for _ in range(max(50, n // 10)):
        step()
    if os.environ.get("HOT_PROFILE_START"):  # start together with another run (an A/B pair)
        while time.time() < float(os.environ["HOT_PROFILE_START"]):
            time.sleep(0.05)
    t0, p0, w0 = time.thread_time(), time.process_time(), time.perf_counter()
    for _ in range(n):
        step()
    return {
        "thread_cpu_ms": round((time.thread_time() - t0) * 1000 / n, 3),
        "process_cpu_ms": round((time.process_time() - p0) * 1000 / n, 3),
        "wall_ms": round((time.perf_counter() - w0) * 1000 / n, 3),
    }


def _profile(step: Callable[[], None], n: int, top: int = 45) -> None:
    profiler = cProfile.Profile(time.thread_time)
    profiler.enable()
    for _ in range(n):
        step()
    profiler.disable()
    if os.environ.get("HOT_PROFILE_OUT"):
        profiler.dump_stats(os.environ["HOT_PROFILE_OUT"])
    pstats.Stats(profiler).sort_stats("cumulative").print_stats(top)


def approving_app(settings: Any, dbname: str, instances: int) -> tuple[Any, Callable[[], None]]:
    """The database ``dbname`` made anew with ``instances`` cases to approve, the production
    app over it, and one approve per call through its test client (as the bench user).
    The caller drops the database."""
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    with psycopg.connect(settings.dsn(dbname)) as conn:
        lo, hi = bare_sql.seed_pool(conn, instances)
    app = app_env.create_app(settings, dbname)
    app_env.ensure_user(app)
    headers = {"Authorization": f"Bearer {app_env.token(app)}", "Content-Type": "application/json"}
    return app, _approver(app.test_client(), lo, hi, headers)


def approve(n: int, profile: bool) -> dict[str, Any]:
    settings = load()
    dbname = os.environ.get("HOT_PROFILE_DB", "riskloop_hot_profile")
    try:
        app, step = approving_app(settings, dbname, 500)
        before = _messages(settings)
        runs = [_measure(step, n) for _ in range(3)]
        sent = _messages(settings) - before
        if profile:
            _profile(step, n)
        with app.app_context():
            from api.extensions import db

            db.session.remove()
            db.engine.dispose()
        return {
            "approve": sorted(runs, key=lambda r: r["thread_cpu_ms"])[1],
            "runs": runs,
            # broker messages per approve (the outbox sender batches ids after commit)
            "messages_per_approve": round(sent / (3 * n), 3),
        }
    finally:
        database.drop(settings, dbname)
        app_env.flush_redis(settings)


def _messages(settings: Any) -> int:
    """Messages the outbox sender has put on the bench Redis so far (none consume them)."""
    import redis

    client = redis.Redis.from_url(settings.redis_url)
    time.sleep(0.1)  # the sender's linger: what was committed is sent
    return sum(int(client.hlen(key)) for key in client.scan_iter("dramatiq:*.msgs"))


def fire(n: int, profile: bool) -> dict[str, Any]:
    settings = load()
    dbname = os.environ.get("HOT_PROFILE_DB", "riskloop_hot_profile")
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    try:
        catalog = engine_fire.build_catalog()
        with psycopg.connect(settings.dsn(dbname)) as conn:
            bare_range = bare_sql.seed_pool(conn, 500)
            fire_range = bare_sql.seed_pool(conn, 500)
        engine_fire.sync_catalog(settings, dbname, catalog)
        engine, factory = engine_fire.session_factory(settings, dbname, 2, catalog)
        fire_client = engine_fire.FireClient(factory, catalog, fire_range, seed=7)
        bare_client = bare_sql.BareClient(settings.dsn(dbname), bare_range, pipeline=False, seed=7)
        try:
            fires, bares = [], []
            for _ in range(3):
                bares.append(_measure(bare_client.step, n))
                fires.append(_measure(fire_client.step, n))
            if profile:
                _profile(fire_client.step, n)
        finally:
            fire_client.close()
            bare_client.close()
            engine.dispose()
        return {
            "fire": sorted(fires, key=lambda r: r["thread_cpu_ms"])[1],
            "bare_sql": sorted(bares, key=lambda r: r["thread_cpu_ms"])[1],
            "runs": {"fire": fires, "bare_sql": bares},
        }
    finally:
        database.drop(settings, dbname)


def bare(n: int, profile: bool) -> dict[str, Any]:
    """The HTTP baseline's approve (``bench.bare_flask``) through its own Flask test
    client, measured as :func:`approve` is: what the same harness costs without riskloop."""
    settings = load()
    dbname = os.environ.get("HOT_PROFILE_DB", "riskloop_hot_profile_bare")
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    try:
        with psycopg.connect(settings.dsn(dbname)) as conn:
            lo, hi = bare_sql.seed_pool(conn, 500)
        os.environ["BENCH_BARE_DSN"] = settings.dsn(dbname)
        from . import bare_flask

        client = bare_flask.flask_app.test_client()
        headers = {"Authorization": "Bearer unused", "Content-Type": "application/json"}
        step = _approver(client, lo, hi, headers)

        runs = [_measure(step, n) for _ in range(3)]
        if profile:
            _profile(step, n)
        bare_flask._client().close()
        return {"bare": sorted(runs, key=lambda r: r["thread_cpu_ms"])[1], "runs": runs}
    finally:
        database.drop(settings, dbname)


def main() -> None:
    args = [a for a in sys.argv[1:] if not a.startswith("--")]
    what = args[0] if args else "approve"
    n = int(args[1]) if len(args) > 1 else 1000
    modes = {"approve": approve, "fire": fire, "bare": bare}
    result = modes[what](n, "--profile" in sys.argv)
    print(what, n, "load average", os.getloadavg(), result)


if __name__ == "__main__":
    main()
