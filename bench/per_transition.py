"""One client, one transition at a time: wall time, CPU time and round trips per transition.

For the engine (``fire()`` through ``transact``, as the API calls it) and the
bare-SQL baseline (``bare_sql.BareClient``) on the same PostgreSQL database,
alternated, and for the embedded mode (``fire()`` on SQLite, one process). CPU
is the client thread's own (``time.thread_time``): on 2 cores shared with
PostgreSQL, the Python CPU a transition costs is what bounds throughput.
Round trips are counted on the engine's connection (statements sent, COMMIT
included). Run alone with ``python -m bench.per_transition``.
"""

from __future__ import annotations

import json
import tempfile
import time
from pathlib import Path
from typing import Any

import psycopg

from . import bare_sql, database, engine_fire
from .config import Settings, load
from .harness import percentile


def _sample(step, samples: int) -> dict[str, Any]:
    for _ in range(max(20, samples // 10)):
        step()
    wall: list[float] = []
    cpu: list[float] = []
    for _ in range(samples):
        c0, t0 = time.thread_time(), time.perf_counter()
        step()
        wall.append((time.perf_counter() - t0) * 1000)
        cpu.append((time.thread_time() - c0) * 1000)
    return {
        "samples": samples,
        "wall_p50_ms": round(percentile(wall, 50) or 0, 3),
        "wall_mean_ms": round(sum(wall) / len(wall), 3),
        "cpu_p50_ms": round(percentile(cpu, 50) or 0, 3),
        "cpu_mean_ms": round(sum(cpu) / len(cpu), 3),
        "per_s": round(1000 * len(wall) / sum(wall), 1),
    }


def _count_round_trips(engine, client, n: int = 20) -> tuple[float, int, int]:
    """Round trips per transition: the hot path driver's libpq calls (``BEGIN`` sent with
    the first statement counts once; ``COMMIT`` is one), and every statement a psycopg
    cursor executes (its implicit ``BEGIN`` uncounted: none on this path); and, apart,
    how many statements were prepared meanwhile (once per connection and parameter types:
    not a transition's cost, a connection's) and how many the catalog's look for new
    definition versions sent (once every ``CHECK_SECONDS`` per process, at the start of
    whichever transaction comes then: not a transition's cost either)."""
    from workflow.engine.catalog import Catalog
    from workflow.platform import driver

    count, prepared, looks = [0], [0], [0]
    tally = [count]
    original = psycopg.Cursor.execute
    original_refresh = Catalog.refresh
    calls = {name: getattr(driver, name) for name in ("_exec", "_prepare", "_exec_prepared")}

    def counted(self, *args: Any, **kwargs: Any):
        tally[0][0] += 1
        return original(self, *args, **kwargs)

    def counting(call, into):
        def counted_call(*args: Any):
            into[0] += 1
            return call(*args)

        return counted_call

    def refresh(self, *args: Any, **kwargs: Any):
        tally[0] = looks
        try:
            return original_refresh(self, *args, **kwargs)
        finally:
            tally[0] = count

    psycopg.Cursor.execute = counted  # type: ignore[method-assign]
    Catalog.refresh = refresh  # type: ignore[method-assign]
    for name, call in calls.items():
        setattr(driver, name, counting(call, prepared if name == "_prepare" else count))
    try:
        for _ in range(n):
            client.step()
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]
        Catalog.refresh = original_refresh  # type: ignore[method-assign]
        for name, call in calls.items():
            setattr(driver, name, call)
    return count[0] / n, prepared[0], looks[0]


def postgresql(settings: Settings, samples: int) -> dict[str, Any]:
    dbname = settings.dbname("one")
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    try:
        catalog = engine_fire.build_catalog()
        with psycopg.connect(settings.dsn(dbname)) as conn:
            bare_range = bare_sql.seed_pool(conn, 500)
            fire_range = bare_sql.seed_pool(conn, 500)
        engine_fire.sync_catalog(settings, dbname, catalog)
        with psycopg.connect(settings.dsn(dbname), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        engine, factory = engine_fire.session_factory(settings, dbname, 2, catalog)
        fire_client = engine_fire.FireClient(factory, catalog, fire_range, seed=7)
        bare_client = bare_sql.BareClient(settings.dsn(dbname), bare_range, pipeline=False, seed=7)
        try:
            fire_runs, bare_runs = [], []
            for _ in range(3):  # alternated, so both see the same machine
                bare_runs.append(_sample(bare_client.step, samples))
                fire_runs.append(_sample(fire_client.step, samples))
            round_trips, prepared, looks = _count_round_trips(engine, fire_client)
        finally:
            fire_client.close()
            bare_client.close()
            engine.dispose()
    finally:
        database.drop(settings, dbname)
    fire, bare = _median(fire_runs), _median(bare_runs)
    return {
        "fire": fire,
        "bare_sql": bare,
        "fire_round_trips": round_trips,
        "fire_statements_prepared_while_counting": prepared,
        "fire_catalog_statements_while_counting": looks,
        # psycopg's BEGIN (its own round trip before the first statement), the lock, five
        # writes, COMMIT
        "bare_sql_round_trips": 8,
        "cpu_fire_vs_bare": round(fire["cpu_p50_ms"] / bare["cpu_p50_ms"], 2),
    }


def _median(runs: list[dict[str, Any]]) -> dict[str, Any]:
    return sorted(runs, key=lambda r: r["per_s"])[len(runs) // 2]


def sqlite(samples: int) -> dict[str, Any]:
    """``fire()`` on an embedded SQLite file, one client in one process."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from workflow.engine import firing
    from workflow.engine.runtime import Runtime
    from workflow.platform.db import Base
    from workflow.platform.transaction import transact

    catalog = engine_fire.build_catalog()
    with tempfile.TemporaryDirectory() as folder:
        engine = create_engine(f"sqlite:///{Path(folder) / 'bench.db'}")
        Base.metadata.create_all(engine)
        factory = Runtime(catalog=catalog).bind(sessionmaker(engine, expire_on_commit=False))
        actor = engine_fire.actor()
        with factory() as session:
            catalog.sync(session)
            ids = [firing.start(session, "bench_toggle", actor).id for _ in range(200)]
            session.commit()
        session = factory()
        n = [0]

        def step() -> None:
            n[0] += 1
            iid = ids[n[0] % len(ids)]
            transact(
                session,
                lambda: firing.fire(session, iid, "approve", actor, request_id=f"bench-{n[0]}"),
            )

        try:
            result = _sample(step, samples)
        finally:
            session.close()
            engine.dispose()
    return result


def run(settings: Settings, out: dict[str, Any], log) -> None:
    samples = 300 if settings.quick else 1000
    pg = postgresql(settings, samples)
    log(
        f"  one client, PostgreSQL: fire() {pg['fire']['wall_p50_ms']} ms wall, "
        f"{pg['fire']['cpu_p50_ms']} ms CPU, {pg['fire_round_trips']:.1f} round trips; "
        f"bare SQL {pg['bare_sql']['wall_p50_ms']} ms wall, {pg['bare_sql']['cpu_p50_ms']} ms CPU"
    )
    lite = sqlite(samples)
    log(
        f"  embedded (SQLite, one process): fire() {lite['per_s']:,.0f}/s, "
        f"{lite['cpu_p50_ms']} ms CPU"
    )
    out["per_transition"] = {"postgresql": pg, "sqlite": lite}
    out["fire_cpu_ms"] = pg["fire"]["cpu_p50_ms"]
    out["bare_sql_cpu_ms"] = pg["bare_sql"]["cpu_p50_ms"]
    out["fire_round_trips"] = pg["fire_round_trips"]
    out["embedded_fire_per_s"] = lite["per_s"]


def main() -> None:
    out: dict[str, Any] = {}
    run(load(), out, print)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
