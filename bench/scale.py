"""Cost flat in history size: fire, inbox and instance read at two sizes.

Two databases are filled, one with a small history (``small_instances``, 10
thousand, with ``audit_per_instance`` audit records each) and one with the large
history (1 million instances and 10 million audit records), with bulk SQL; then
each probe is timed on both side by side, alternating calls (whichever else runs
on the machine weighs on both sizes alike). Each figure is the median of
``latency_samples`` calls per size after a warm-up:

* ``fire``: ``workflow.engine.firing.fire`` on the bench definition's instances
  (plus, for reference, the bare-SQL transition on the same rows);
* ``inbox``: ``GET /api/v1/tasks`` through the app (Flask test client, no
  socket) as a risk officer; ``inbox_one_workflow`` the same filtered to one
  workflow;
* ``read``: ``GET /api/v1/workflows/{id}`` on random instances.

The SQL of one inbox request and of a few instance reads is captured and
EXPLAINed (ANALYZE, BUFFERS) at both sizes: the pages each statement touches,
its planning time, and sequential scans on the engine's tables.
The large database is left for the verification section, which drops it.
"""

from __future__ import annotations

import json
import random
import time
from collections.abc import Callable
from typing import Any

import psycopg

from . import app_env, bare_sql, database, engine_fire, scale_data
from .config import Settings
from .harness import percentile

POOL = 1_000
BIG_TABLES = {"workflow_instances", "audit_records", "timers", "outbox", "users", "tokens"}

# The workflow whose inbox page is also measured alone (the same content at both sizes).
SAME_CONTENT_DEFINITION = "client_onboarding"


def dbname_for(settings: Settings) -> str:
    return settings.dbname("scale")


def workflows_from(catalog) -> list[scale_data.Workflow]:
    """History shaped like the shipped definitions when they exist (states by their
    names, the latest version, which the app must find to read an instance)."""
    found = []
    for name, open_guess, final_guess, version_guess in scale_data.WORKFLOWS:
        if name in catalog:
            d = catalog.get(name)
            open_states = [s for s, spec in d.states.items() if not spec.final]
            final_states = [s for s, spec in d.states.items() if spec.final]
            found.append((name, open_states or open_guess, final_states or final_guess, d.version))
        else:
            found.append((name, open_guess, final_guess, version_guess))
    return found


def _stats(lat: list[float]) -> dict[str, Any]:
    return {
        "samples": len(lat),
        "p50_ms": round(percentile(lat, 50), 3),
        "p90_ms": round(percentile(lat, 90), 3),
        "mean_ms": round(sum(lat) / len(lat), 3),
    }


class Probes:
    def __init__(
        self, settings: Settings, dbname: str, app, token: str, pool: tuple[int, int]
    ) -> None:
        self.settings = settings
        self.dbname = dbname
        self.app = app
        self.client = app.test_client()
        self.headers = {"Authorization": f"Bearer {token}"}
        self.pool = pool
        self.catalog = app.extensions["riskloop"]["runtime"].catalog
        self.rng = random.Random(7)

    def _readable_ids(self) -> list[int]:
        names = [d.name for d in self.catalog.latest()]
        with psycopg.connect(self.settings.dsn(self.dbname)) as conn:
            rows = conn.execute(
                "SELECT id FROM workflow_instances WHERE definition = ANY(%s) "
                "ORDER BY random() LIMIT 2000",
                (names,),
            ).fetchall()
        return [r[0] for r in rows]

    def _get(self, path: str) -> Any:
        resp = self.client.get(path, headers=self.headers)
        if resp.status_code != 200:
            raise RuntimeError(
                f"{path} answered {resp.status_code}: {resp.get_data(as_text=True)[:300]}"
            )
        return resp

    def calls(self) -> tuple[dict[str, Callable[[], Any]], Callable[[], None]]:
        """The measured calls by name, and a function that closes what they hold open."""
        engine, factory = engine_fire.session_factory(self.settings, self.dbname, 2, self.catalog)
        fire = engine_fire.FireClient(factory, self.catalog, self.pool, seed=99)
        bare = bare_sql.BareClient(
            self.settings.dsn(self.dbname), self.pool, pipeline=False, seed=5
        )
        self.ids = self._readable_ids()

        def close() -> None:
            fire.close()
            bare.close()
            engine.dispose()

        # The same page content at both sizes: one workflow's page (see run: the pool is
        # due last, so the unfiltered page is history cases at both sizes too).
        one = f"/api/v1/tasks?limit=50&definition={SAME_CONTENT_DEFINITION}"
        return {
            "fire": fire.step,
            "bare_sql_fire": bare.step,
            "inbox": lambda: self._get("/api/v1/tasks?limit=50"),
            "inbox_one_workflow": lambda: self._get(one),
            "read": lambda: self._get(f"/api/v1/workflows/{self.rng.choice(self.ids)}"),
        }, close

    def describe(self) -> dict[str, Any]:
        """What the pages hold and the plans of their statements."""
        one = f"/api/v1/tasks?limit=50&definition={SAME_CONTENT_DEFINITION}"
        return {
            "inbox_items": len(self._get("/api/v1/tasks?limit=50").get_json()["items"]),
            "inbox_one_workflow_items": len(self._get(one).get_json()["items"]),
            "inbox_plans": self.inbox_plans(),
            "read_plans": self.read_plans(self.ids[:20]),
        }

    def inbox_plans(self) -> dict[str, Any]:
        """EXPLAIN (ANALYZE, BUFFERS) every SELECT one inbox request runs."""
        return self.plans(["/api/v1/tasks?limit=50"])

    def read_plans(self, ids: list[int]) -> dict[str, Any]:
        """EXPLAIN (ANALYZE, BUFFERS) every SELECT of a few instance reads."""
        return self.plans([f"/api/v1/workflows/{iid}" for iid in ids])

    def plans(self, paths: list[str]) -> dict[str, Any]:
        """Run the requests to ``paths`` capturing their SELECTs, then EXPLAIN (ANALYZE,
        BUFFERS) each distinct statement text once (its first parameters): the pages it
        touches (shared buffers hit + read: what grows with the history when a plan reads
        rows in proportion to it), the planning time, and sequential scans of the engine's
        tables. The statements run again right after the request, so the pages are
        mostly hits; ``buffers`` is the load-independent figure."""
        from sqlalchemy import event

        from api.extensions import db

        captured: list[tuple[str, Any]] = []

        def grab(conn, cursor, statement, parameters, context, executemany) -> None:
            if statement.lstrip().upper().startswith("SELECT"):
                captured.append((statement, parameters))

        with self.app.app_context():
            engine = db.engine
        event.listen(engine, "before_cursor_execute", grab)
        try:
            for path in paths:
                resp = self.client.get(path, headers=self.headers)
                if resp.status_code != 200:
                    raise RuntimeError(f"{path} answered {resp.status_code}")
        finally:
            event.remove(engine, "before_cursor_execute", grab)
        plans = []
        seq_scans = 0
        buffers = planning = 0.0
        seen: set[str] = set()
        with engine.connect() as conn:
            for statement, params in captured:
                if statement in seen:
                    continue
                seen.add(statement)
                plan = conn.exec_driver_sql(
                    "EXPLAIN (ANALYZE, BUFFERS, FORMAT JSON) " + statement, params
                ).scalar()
                plan = plan if isinstance(plan, list) else json.loads(plan)
                top = plan[0]["Plan"]
                scans = list(_seq_scans(top))
                big = [s for s in scans if s in BIG_TABLES]
                seq_scans += len(big)
                text_plan = conn.exec_driver_sql("EXPLAIN " + statement, params).scalars().all()
                touched = top.get("Shared Hit Blocks", 0) + top.get("Shared Read Blocks", 0)
                buffers += touched
                planning += plan[0].get("Planning Time") or 0.0
                plans.append(
                    {
                        "sql": " ".join(statement.split())[:600],
                        "seq_scans": scans,
                        "execution_ms": plan[0].get("Execution Time"),
                        "planning_ms": plan[0].get("Planning Time"),
                        "buffers": touched,
                        "rows": top.get("Actual Rows"),
                        "plan": text_plan,
                    }
                )
            conn.rollback()
        return {
            "requests": len(paths),
            "statements": len(captured),
            "distinct": len(plans),
            "buffers": int(buffers),
            "planning_ms": round(planning, 3),
            "seq_scans_on_engine_tables": seq_scans,
            "plans": plans,
        }


def _seq_scans(node: dict[str, Any]):
    if node.get("Node Type") == "Seq Scan":
        yield node.get("Relation Name")
    for child in node.get("Plans", []) or []:
        yield from _seq_scans(child)


def side_by_side(
    small: Probes, large: Probes, samples: int, warmup: int = 20
) -> tuple[dict[str, Any], dict[str, Any]]:
    """Each call timed on both databases in turn (which goes first alternating), so that
    whatever else the machine is doing weighs on both sizes alike: the ratio is the
    history's cost, not the load's drift between two runs minutes apart."""
    calls_small, close_small = small.calls()
    calls_large, close_large = large.calls()
    out: tuple[dict[str, Any], dict[str, Any]] = ({}, {})
    try:
        for name in calls_small:
            pair = (calls_small[name], calls_large[name])
            for _ in range(warmup):
                pair[0]()
                pair[1]()
            lat: tuple[list[float], list[float]] = ([], [])
            for n in range(samples):
                for side in (0, 1) if n % 2 == 0 else (1, 0):
                    t0 = time.perf_counter()
                    pair[side]()
                    lat[side].append((time.perf_counter() - t0) * 1000)
            out[0][name] = _stats(lat[0])
            out[1][name] = _stats(lat[1])
    finally:
        close_small()
        close_large()
    return out


def _build(
    settings: Settings, dbname: str, total: int, label: str, log: Callable[[str], None]
) -> tuple[Probes, dict[str, Any]]:
    """A database with the bench pool and ``total`` instances of history, and its probes."""
    k = settings.audit_per_instance
    t0 = time.perf_counter()
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    app = app_env.create_app(settings, dbname)
    catalog = app.extensions["riskloop"]["runtime"].catalog
    workflows = workflows_from(catalog)
    app_env.ensure_user(app)
    token = app_env.token(app)
    with psycopg.connect(settings.dsn(dbname)) as conn:
        pool = scale_data.add_instances(
            conn, POOL, audit_per_instance=k, open_fraction=1.0, workflows=scale_data.BENCH_WORKFLOW
        )
        # The pool (the fire probes' open bench_toggle cases, every one a risk officer's
        # task) is due after the whole history, so that the inbox's first page holds history
        # cases at both sizes. Due first, it filled the small page (50 bench_toggle cases, no
        # guard) while at 1 M the history's own earliest cases came between them (a mix of
        # the four workflows, their segregation guards read): different content, not the
        # history's cost.
        conn.execute(
            "UPDATE workflow_instances SET sla_due_at = sla_due_at + interval '60 days' "
            "WHERE id BETWEEN %s AND %s",
            pool,
        )
        conn.commit()
    built = scale_data_grow(settings, dbname, total, k, settings.open_fraction, workflows, log)
    counts = _counts(settings, dbname)
    log(
        f"  {label}: {counts['workflow_instances']:,} instances, "
        f"{counts['audit_records']:,} audit records (built in {time.perf_counter() - t0:.0f} s)"
    )
    return Probes(settings, dbname, app, token, pool), {
        "counts": counts,
        "build": built,
        "workflows": workflows,
    }


def run(settings: Settings, out: dict[str, Any], log: Callable[[str], None]) -> None:
    """Two databases, the small and the large history, built one after the other and then
    measured side by side (``side_by_side``). The large one is left for the verification
    section, which drops it; the small one is dropped here (kept with BENCH_KEEP_DB)."""
    dbname = dbname_for(settings)
    small_db = settings.dbname("scale_small")
    app_env.flush_redis(settings)
    small, small_info = _build(settings, small_db, settings.small_instances, "small", log)
    large, large_info = _build(settings, dbname, settings.large_instances, "large", log)
    result: dict[str, Any] = {
        "audit_per_instance": settings.audit_per_instance,
        "workflows": large_info.pop("workflows"),
        "measured": "side by side (alternating calls on the two databases)",
    }
    small_info.pop("workflows")
    timed = side_by_side(small, large, settings.latency_samples)
    for label, probes, info, measured in (
        ("small", small, small_info, timed[0]),
        ("large", large, large_info, timed[1]),
    ):
        measured.update(probes.describe())
        measured.update(info)
        result[label] = measured
        log(
            f"  {label}: fire p50 {measured['fire']['p50_ms']} ms, bare {measured['bare_sql_fire']['p50_ms']} ms,"
            f" inbox p50 {measured['inbox']['p50_ms']} ms ({measured['inbox_items']} items),"
            f" {SAME_CONTENT_DEFINITION} inbox p50 {measured['inbox_one_workflow']['p50_ms']} ms"
            f" ({measured['inbox_one_workflow_items']} items),"
            f" read p50 {measured['read']['p50_ms']} ms,"
            f" seq scans in inbox plans: {measured['inbox_plans']['seq_scans_on_engine_tables']},"
            f" pages touched (EXPLAIN BUFFERS): inbox {measured['inbox_plans']['buffers']},"
            f" read {measured['read_plans']['buffers']}"
            f" ({measured['read_plans']['distinct']} distinct statements)"
        )
    small_result, large_result = result["small"], result["large"]
    for key in ("fire", "bare_sql_fire", "inbox", "inbox_one_workflow", "read"):
        result[f"{key}_ratio"] = round(large_result[key]["p50_ms"] / small_result[key]["p50_ms"], 3)
    result["inbox_seq_scans"] = (
        small_result["inbox_plans"]["seq_scans_on_engine_tables"]
        + large_result["inbox_plans"]["seq_scans_on_engine_tables"]
        + small_result["read_plans"]["seq_scans_on_engine_tables"]
        + large_result["read_plans"]["seq_scans_on_engine_tables"]
    )
    result["chains_sampled"] = scale_data.check_chains(settings, dbname, sample=50)
    out["scale"] = result
    out["_scale_db"] = dbname
    database.drop(settings, small_db)  # (kept with BENCH_KEEP_DB)
    app_env.flush_redis(settings)


def scale_data_grow(settings, dbname, total, k, open_fraction, workflows, log) -> dict[str, Any]:
    original = scale_data.WORKFLOWS
    scale_data.WORKFLOWS = workflows
    try:
        return scale_data.grow(
            settings, dbname, total, audit_per_instance=k, open_fraction=open_fraction, log=log
        ).as_dict()
    finally:
        scale_data.WORKFLOWS = original


def _counts(settings: Settings, dbname: str) -> dict[str, int]:
    with psycopg.connect(settings.dsn(dbname)) as conn:
        return {
            t: conn.execute(f"SELECT count(*) FROM {t}").fetchone()[0]
            for t in ("workflow_instances", "audit_records", "timers", "outbox")
        }
