"""``make bench`` / ``python -m bench.run``: every figure of SPEC section 7, in one table.

Sections run in order and each is independent: one that cannot run (the engine
or the API missing, a tool not installed) is reported as skipped or failed and
the others still run. ``BENCH_QUICK=1`` shrinks sizes and durations (about three
minutes); ``BENCH_SECTIONS=throughput,spiff`` runs a subset; ``BENCH_KEEP_DB=1``
keeps the databases for a look afterwards.
"""

from __future__ import annotations

import importlib.util
import statistics
import sys
import time
import traceback
from collections.abc import Callable
from typing import Any

import psycopg

from . import bare_sql, database, machine, report
from .config import Settings, load

SECTIONS = (
    "throughput",
    "one_client",
    "spiff",
    "scale",
    "verify",
    "http",
    "embedded",
    "worker_rss",
    "names",
    "events",
    "backtest",
    "migration",
)


def log(message: str) -> None:
    print(message, flush=True)


def engine_ready() -> str | None:
    """None when ``workflow.engine.firing.fire`` can be imported, else why not."""
    if importlib.util.find_spec("workflow.engine.firing") is None:
        return "workflow/engine.py does not exist yet"
    try:
        from workflow.engine.firing import fire  # noqa: F401
    except Exception as exc:
        return f"workflow.engine.firing does not import: {exc!r}"
    return None


def api_ready() -> str | None:
    try:
        from api import create_app  # noqa: F401
    except Exception as exc:
        return f"api.create_app does not import: {exc!r}"
    return None


class Skip(Exception):
    """Raised by a section that cannot run here; the reason is reported."""


def section_throughput(settings: Settings, out: dict[str, Any]) -> None:
    from . import engine_fire

    dbname = settings.dbname("tx")
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    why_not = engine_ready()
    catalog = None
    try:
        with psycopg.connect(settings.dsn(dbname)) as conn:
            bare_range = bare_sql.seed_pool(conn, settings.pool_instances)
            fire_range = None
            if why_not is None:
                catalog = engine_fire.build_catalog()
                fire_range = bare_sql.seed_pool(conn, settings.pool_instances)
        if catalog is not None:
            engine_fire.sync_catalog(settings, dbname, catalog)
        with psycopg.connect(settings.dsn(dbname), autocommit=True) as conn:
            conn.execute("VACUUM ANALYZE")
        rounds = 1 if settings.quick else 2
        bare_runs, fire_runs = [], []
        for r in range(rounds):
            res = bare_sql.measure(settings, dbname, bare_range)
            bare_runs.append(res.summary())
            log(
                f"  round {r + 1}: bare SQL {res.per_s:,.0f}/s p99 {res.percentile(99):.1f} ms"
                f" errors {res.errors}"
            )
            if catalog is not None:
                res = engine_fire.measure(settings, dbname, fire_range, catalog)
                fire_runs.append(res.summary())
                p99 = res.percentile(99)
                log(
                    f"  round {r + 1}: fire() {res.per_s:,.0f}/s p99 "
                    f"{p99 if p99 is None else round(p99, 1)} ms errors {res.errors}"
                    + (f" first error {res.first_error}" if res.first_error else "")
                )
        res = bare_sql.measure(
            settings,
            dbname,
            bare_range,
            pipeline=True,
            duration_s=max(3.0, settings.duration_s / 2),
        )
        log(f"  bare SQL, writes pipelined after the lock: {res.per_s:,.0f}/s")
        from .scale_data import check_chains

        chains = check_chains(settings, dbname, sample=100)
    finally:
        database.drop(settings, dbname)
    bare = statistics.mean(r["per_s"] for r in bare_runs)
    out["bare_sql_per_s"] = round(bare, 1)
    out["throughput"] = {
        "clients": settings.clients,
        "pool_instances": settings.pool_instances,
        "seconds_per_round": settings.duration_s,
        "bare_sql_rounds": bare_runs,
        "fire_rounds": fire_runs,
        "bare_sql_pipelined": res.summary(),
        "chains_recomputed": chains,
    }
    out["bare_sql_pipeline_per_s"] = round(res.per_s, 1)
    if catalog is None:
        raise Skip(f"fire_per_s: {why_not}")
    fire = statistics.mean(r["per_s"] for r in fire_runs)
    out["fire_per_s"] = round(fire, 1)
    out["fire_vs_bare"] = round(fire / bare, 3) if bare else None
    if chains["bad"]:
        raise RuntimeError(f"audit chains written during the run do not verify: {chains}")


def section_one_client(settings: Settings, out: dict[str, Any]) -> None:
    why_not = engine_ready()
    if why_not:
        raise Skip(why_not)
    from . import per_transition

    per_transition.run(settings, out, log)


def section_embedded(settings: Settings, out: dict[str, Any]) -> None:
    why_not = engine_ready() or api_ready()
    if why_not:
        raise Skip(why_not)
    from . import embedded

    embedded.run(settings, out, log)


def section_spiff(settings: Settings, out: dict[str, Any]) -> None:
    if importlib.util.find_spec("SpiffWorkflow") is None:
        raise Skip("SpiffWorkflow is not installed: pip install -e '.[bench]'")
    from . import spiff_peer

    res = spiff_peer.run(settings)
    log(
        f"  SpiffWorkflow: {res['cases_per_s']:,.0f} cases/s = {res['transitions_per_s']:,.0f} "
        f"transitions/s, case p99 {res['case_p99_ms']} ms, errors {res['errors']}"
    )
    out["peer_spiff_per_s"] = res["transitions_per_s"]
    out["spiff"] = res
    if out.get("fire_per_s"):
        out["fire_vs_spiff"] = round(out["fire_per_s"] / res["transitions_per_s"], 2)


def section_scale(settings: Settings, out: dict[str, Any]) -> None:
    why_not = engine_ready()
    if why_not:
        raise Skip(why_not)
    from . import scale

    scale.run(settings, out, log)


def section_verify(settings: Settings, out: dict[str, Any]) -> None:
    why_not = engine_ready() or api_ready()
    if why_not:
        raise Skip(why_not)
    from . import verify_run

    verify_run.run(settings, out, log)


def section_http(settings: Settings, out: dict[str, Any]) -> None:
    why_not = engine_ready() or api_ready()
    if why_not:
        raise Skip(why_not)
    from . import http_load

    http_load.run(settings, out, log)


def section_worker_rss(settings: Settings, out: dict[str, Any]) -> None:
    why_not = engine_ready() or api_ready()
    if why_not:
        raise Skip(why_not)
    from . import http_load

    http_load.run_worker_rss(settings, out, log)


def section_names(settings: Settings, out: dict[str, Any]) -> None:
    from . import name_screening

    name_screening.run_section(settings, out, log)


def section_backtest(settings: Settings, out: dict[str, Any]) -> None:
    why_not = engine_ready() or api_ready()
    if why_not:
        raise Skip(why_not)
    from . import backtest

    backtest.run(settings, out, log)


def section_events(settings: Settings, out: dict[str, Any]) -> None:
    why_not = engine_ready() or api_ready()
    if why_not:
        raise Skip(why_not)
    from . import events

    events.run(settings, out, log)


def section_migration(settings: Settings, out: dict[str, Any]) -> None:
    why_not = engine_ready() or api_ready()
    if why_not:
        raise Skip(why_not)
    from . import migration

    migration.run(settings, out, log)


RUNNERS: dict[str, Callable[[Settings, dict[str, Any]], None]] = {
    "throughput": section_throughput,
    "one_client": section_one_client,
    "spiff": section_spiff,
    "scale": section_scale,
    "verify": section_verify,
    "http": section_http,
    "embedded": section_embedded,
    "worker_rss": section_worker_rss,
    "names": section_names,
    "events": section_events,
    "backtest": section_backtest,
    "migration": section_migration,
}


def main() -> int:
    settings = load()
    wanted = settings.sections or SECTIONS
    unknown = [s for s in wanted if s not in RUNNERS]
    if unknown:
        log(f"unknown section(s) {unknown}; choose from {', '.join(SECTIONS)}")
        return 2
    results: dict[str, Any] = {
        "quick": settings.quick,
        "machine": machine.describe(settings),
        "sections_run": list(wanted),
        "skipped": {},
        "errors": {},
        "timings_s": {},
    }
    started = time.perf_counter()
    for name in wanted:
        log(f"== {name}")
        t0 = time.perf_counter()
        try:
            RUNNERS[name](settings, results)
        except Skip as exc:
            results["skipped"][name] = str(exc)
            log(f"  skipped: {exc}")
        except Exception as exc:  # one section's failure must not hide the others' figures
            results["errors"][name] = f"{type(exc).__name__}: {exc}"
            traceback.print_exc()
        results["timings_s"][name] = round(time.perf_counter() - t0, 1)
        report.write(results)  # partial results survive an interrupted run
    leftover = results.pop("_scale_db", None)
    if leftover:
        database.drop(settings, leftover)
    results["timings_s"]["total"] = round(time.perf_counter() - started, 1)
    results["machine"]["load_average_at_end"] = machine.load_average()
    results["bars"] = report.bars(results)
    report.write(results)
    log("")
    log(report.table(results))
    log(f"\nwritten: {report.RESULTS}")
    return 1 if results["errors"] else 0


if __name__ == "__main__":
    sys.exit(main())
