"""Cost flat in history size: fire, inbox and instance read at two sizes.

One database is filled with a small history (``small_instances``, 10 thousand,
with ``audit_per_instance`` audit records each), measured, grown with bulk SQL
to the large history (1 million instances and 10 million audit records), and
measured again. Each figure is the median of ``latency_samples`` sequential
calls by one client after a warm-up:

* ``fire``: ``workflow.engine.firing.fire`` on the bench definition's instances
  (plus, for reference, the bare-SQL transition on the same rows);
* ``inbox``: ``GET /api/v1/tasks`` through the app (Flask test client, no
  socket) as a risk officer;
* ``read``: ``GET /api/v1/workflows/{id}`` on random instances.

The SQL of one inbox request is captured and EXPLAINed (ANALYZE, BUFFERS) at
both sizes; sequential scans on the engine's tables are counted.
The database is left for the verification section, which drops it.
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


def _timed(fn: Callable[[], Any], samples: int, warmup: int = 20) -> dict[str, Any]:
    for _ in range(warmup):
        fn()
    lat = []
    for _ in range(samples):
        t0 = time.perf_counter()
        fn()
        lat.append((time.perf_counter() - t0) * 1000)
    return _stats(lat)


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

    def measure(self, samples: int) -> dict[str, Any]:
        out: dict[str, Any] = {}
        engine, factory = engine_fire.session_factory(self.settings, self.dbname, 2, self.catalog)
        try:
            out["fire"] = engine_fire.latency_probe(factory, self.catalog, self.pool, samples)
        finally:
            engine.dispose()
        bare = bare_sql.BareClient(
            self.settings.dsn(self.dbname), self.pool, pipeline=False, seed=5
        )
        try:
            out["bare_sql_fire"] = _timed(bare.step, samples)
        finally:
            bare.close()

        def inbox() -> None:
            resp = self.client.get("/api/v1/tasks?limit=50", headers=self.headers)
            if resp.status_code != 200:
                raise RuntimeError(
                    f"inbox answered {resp.status_code}: {resp.get_data(as_text=True)[:300]}"
                )

        out["inbox"] = _timed(inbox, samples)
        out["inbox_items"] = len(
            self.client.get("/api/v1/tasks?limit=50", headers=self.headers).get_json()["items"]
        )

        # The same page content at both sizes: what the unfiltered first page holds differs
        # with the mix of cases at each size (guarded onboarding cases cost more to check
        # than others), which is not the history's cost; one workflow's page compares like
        # with like.
        def inbox_one_workflow() -> None:
            resp = self.client.get(
                f"/api/v1/tasks?limit=50&definition={SAME_CONTENT_DEFINITION}", headers=self.headers
            )
            if resp.status_code != 200:
                raise RuntimeError(
                    f"inbox answered {resp.status_code}: {resp.get_data(as_text=True)[:300]}"
                )

        out["inbox_one_workflow"] = _timed(inbox_one_workflow, samples)
        out["inbox_one_workflow_items"] = len(
            self.client.get(
                f"/api/v1/tasks?limit=50&definition={SAME_CONTENT_DEFINITION}", headers=self.headers
            ).get_json()["items"]
        )
        ids = self._readable_ids()

        def read() -> None:
            iid = self.rng.choice(ids)
            resp = self.client.get(f"/api/v1/workflows/{iid}", headers=self.headers)
            if resp.status_code != 200:
                raise RuntimeError(
                    f"read {iid} answered {resp.status_code}: {resp.get_data(as_text=True)[:300]}"
                )

        out["read"] = _timed(read, samples)
        out["inbox_plans"] = self.inbox_plans()
        return out

    def inbox_plans(self) -> dict[str, Any]:
        """EXPLAIN (ANALYZE, BUFFERS) every SELECT one inbox request runs."""
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
            self.client.get("/api/v1/tasks?limit=50", headers=self.headers)
        finally:
            event.remove(engine, "before_cursor_execute", grab)
        plans = []
        seq_scans = 0
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
                scans = list(_seq_scans(plan[0]["Plan"]))
                big = [s for s in scans if s in BIG_TABLES]
                seq_scans += len(big)
                text_plan = conn.exec_driver_sql("EXPLAIN " + statement, params).scalars().all()
                plans.append(
                    {
                        "sql": " ".join(statement.split())[:600],
                        "seq_scans": scans,
                        "execution_ms": plan[0].get("Execution Time"),
                        "plan": text_plan,
                    }
                )
            conn.rollback()
        return {
            "statements": len(captured),
            "distinct": len(plans),
            "seq_scans_on_engine_tables": seq_scans,
            "plans": plans,
        }


def _seq_scans(node: dict[str, Any]):
    if node.get("Node Type") == "Seq Scan":
        yield node.get("Relation Name")
    for child in node.get("Plans", []) or []:
        yield from _seq_scans(child)


def run(settings: Settings, out: dict[str, Any], log: Callable[[str], None]) -> None:
    dbname = dbname_for(settings)
    k = settings.audit_per_instance
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    app_env.flush_redis(settings)
    app = app_env.create_app(settings, dbname)
    catalog = app.extensions["riskloop"]["runtime"].catalog
    workflows = workflows_from(catalog)
    app_env.ensure_user(app)
    token = app_env.token(app)
    with psycopg.connect(settings.dsn(dbname)) as conn:
        pool = scale_data.add_instances(
            conn, POOL, audit_per_instance=k, open_fraction=1.0, workflows=scale_data.BENCH_WORKFLOW
        )
        conn.commit()
    result: dict[str, Any] = {"audit_per_instance": k, "workflows": workflows}
    sizes = [("small", settings.small_instances), ("large", settings.large_instances)]
    for label, total in sizes:
        t0 = time.perf_counter()
        built = scale_data_grow(settings, dbname, total, k, settings.open_fraction, workflows, log)
        counts = _counts(settings, dbname)
        log(
            f"  {label}: {counts['workflow_instances']:,} instances, "
            f"{counts['audit_records']:,} audit records (built in {time.perf_counter() - t0:.0f} s)"
        )
        probes = Probes(settings, dbname, app, token, pool)
        measured = probes.measure(settings.latency_samples)
        measured["counts"] = counts
        measured["build"] = built
        result[label] = measured
        log(
            f"  {label}: fire p50 {measured['fire']['p50_ms']} ms, bare {measured['bare_sql_fire']['p50_ms']} ms,"
            f" inbox p50 {measured['inbox']['p50_ms']} ms ({measured['inbox_items']} items),"
            f" {SAME_CONTENT_DEFINITION} inbox p50 {measured['inbox_one_workflow']['p50_ms']} ms"
            f" ({measured['inbox_one_workflow_items']} items),"
            f" read p50 {measured['read']['p50_ms']} ms,"
            f" seq scans in inbox plans: {measured['inbox_plans']['seq_scans_on_engine_tables']}"
        )
    small, large = result["small"], result["large"]
    for key in ("fire", "bare_sql_fire", "inbox", "inbox_one_workflow", "read"):
        result[f"{key}_ratio"] = round(large[key]["p50_ms"] / small[key]["p50_ms"], 3)
    result["inbox_seq_scans"] = (
        small["inbox_plans"]["seq_scans_on_engine_tables"]
        + large["inbox_plans"]["seq_scans_on_engine_tables"]
    )
    result["chains_sampled"] = scale_data.check_chains(settings, dbname, sample=50)
    out["scale"] = result
    out["_scale_db"] = dbname
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
