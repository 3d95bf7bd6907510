"""Moving open instances to a new definition version on PostgreSQL (``workflow.engine.migration``).

A fresh database with the riskloop schema and 10,000 open due-diligence reviews (2,000
with ``BENCH_QUICK=1``) spread over every open state, each with its pending escalation
timer, written in bulk. Due diligence v4 (the test fixture: a shorter collecting SLA, the
review step removed, a priority required of an opened case) is published beside the shipped v3, then
timed: the dry run, the apply with ``under_review=collecting`` in batches of 500 (the
opened reviews without a priority stay blocked), and the revert. Instances per second of
each. Run alone with ``python -m bench.migration``.
"""

from __future__ import annotations

import time
from datetime import datetime, timedelta
from pathlib import Path
from typing import Any

from . import database
from .config import Settings, load

VERSIONS = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "definition_versions"
STATES = ("opened", "collecting", "under_review")
SLAS = {
    "opened": timedelta(hours=48),
    "collecting": timedelta(days=10),
    "under_review": timedelta(hours=72),
}


def _seed(session: Any, count: int) -> None:
    """``count`` open reviews on v3 (the shipped version), a third in each open state, with their timers."""
    from sqlalchemy import insert, select

    from workflow.records.models import Timer, WorkflowInstance

    now = datetime(2026, 12, 1, 9, 0)
    rows = []
    for n in range(count):
        state = STATES[n % len(STATES)]
        entered = now - timedelta(hours=n % 40)
        data: dict[str, Any] = {"collector": "risk1"} if state != "opened" else {}
        if state == "opened" and n % 2:
            data["priority"] = "normal"
        rows.append(
            {
                "definition": "due_diligence",
                "definition_version": 3,
                "state": state,
                "version": 1 + STATES.index(state),
                "is_open": True,
                "subject_type": "client",
                "subject_id": n + 1,
                "created_by": "risk1",
                "assignees": [],
                "data": data,
                "sla_due_at": entered + SLAS[state],
                "breached": False,
                "created_at": entered,
                "updated_at": entered,
                "state_entered_at": entered,
                "audit_seq": 0,
                "audit_hash": "",
            }
        )
    session.execute(insert(WorkflowInstance), rows)
    seeded = session.execute(
        select(WorkflowInstance.id, WorkflowInstance.state, WorkflowInstance.state_entered_at)
    ).all()
    session.execute(
        insert(Timer),
        [
            {
                "kind": "transition",
                "instance_id": iid,
                "state": state,
                "trigger": "escalate",
                "args": {},
                "due_at": entered + SLAS[state],
                "status": "pending",
                "created_at": entered,
            }
            for iid, state, entered in seeded
        ],
    )
    session.commit()


def run(settings: Settings, out: dict[str, Any], log) -> None:  # noqa: ANN001
    from workflow.engine import migration
    from workflow.records.identity import Actor

    dbname = settings.dbname("migration")
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    count = 2_000 if settings.quick else 10_000
    engine, rt = database.shipped_runtime(settings, dbname)
    admin = Actor("admin", frozenset({"admin"}))
    state_map = {"under_review": "collecting"}
    try:
        with rt.session() as s:
            rt.catalog.sync(s)
            s.commit()
            _seed(s, count)
        rt.catalog.load_folder(VERSIONS)
        with rt.session() as s:
            rt.catalog.sync(s)
            s.commit()
            started = time.perf_counter()
            planned = migration.plan(s, "due_diligence", 4, state_map)
            plan_s = time.perf_counter() - started
            s.rollback()
            started = time.perf_counter()
            applied = migration.apply(s, "due_diligence", 4, admin, state_map)
            apply_s = time.perf_counter() - started
            started = time.perf_counter()
            reverted = migration.revert(s, applied.migration_id or 0, admin)
            revert_s = time.perf_counter() - started
    finally:
        engine.dispose()
        database.drop(settings, dbname)
    counts = applied.counts()
    moved = counts["migratable"]
    result = {
        "instances": count,
        "migrated": moved,
        "blocked": counts["blocked"],
        "plan_per_s": round(len(planned.instances) / plan_s, 1),
        "apply_per_s": round(count / apply_s, 1),
        "migrated_per_s": round(moved / apply_s, 1),
        "revert_per_s": round(reverted.counts().get("reverted", 0) / revert_s, 1),
    }
    log(
        f"  {count:,} open reviews: dry run {result['plan_per_s']:,.0f}/s; apply "
        f"{result['apply_per_s']:,.0f} instances/s ({moved:,} moved, {counts['blocked']:,} "
        f"blocked); revert {result['revert_per_s']:,.0f}/s"
    )
    out["migration"] = result
    out["migration_per_s"] = result["apply_per_s"]


if __name__ == "__main__":
    out: dict[str, Any] = {}
    run(load(), out, print)
    print(out["migration"])
