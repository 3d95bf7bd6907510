"""The peer: the same approval in SpiffWorkflow, persisted the way Flask + Spiff services do.

The process (``bench/approval.bpmn``) is start → user task ``submit`` → user
task ``approve`` → end, parsed once. A case is two requests, each one database
transaction, as a web service would serve them:

* submit: build the workflow from the parsed spec, run it to the ``submit``
  task, complete it, serialize the whole workflow with
  ``BpmnWorkflowSerializer.serialize_json`` and INSERT it (a ``jsonb`` column,
  one row per case) together with an audit row; commit.
* approve: ``SELECT … FOR UPDATE`` the case row, ``deserialize_json``, complete
  ``approve``, serialize again, UPDATE the row and INSERT an audit row; commit.

The audit rows are plain rows (no hash chain: Spiff has none). Each client
thread has its own connection and its own serializer (the serializer's registry
keeps a per-call flag, so it is not shared across threads). Throughput is given
in cases per second and in transitions per second (two per case), the latter
to compare with the engine's ``fire()``. Run alone with
``python -m bench.spiff_peer [--clients 16] [--seconds 10]``.
"""

from __future__ import annotations

import argparse
import json
import os
import random
from datetime import UTC, datetime
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from . import database
from .config import Settings, load
from .harness import LoadResult, run_load

BPMN_FILE = os.path.join(os.path.dirname(__file__), "approval.bpmn")
PROCESS_ID = "approval"

SCHEMA = """
CREATE TABLE spiff_cases (
    id bigserial PRIMARY KEY,
    process text NOT NULL,
    status text NOT NULL,
    serialization jsonb NOT NULL,
    created_at timestamp NOT NULL,
    updated_at timestamp NOT NULL
);
CREATE TABLE spiff_audit (
    id bigserial PRIMARY KEY,
    case_id bigint NOT NULL,
    task text NOT NULL,
    actor text NOT NULL,
    at timestamp NOT NULL,
    data jsonb NOT NULL
);
CREATE INDEX ix_spiff_audit_case ON spiff_audit (case_id, id);
"""


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def parse_spec() -> tuple[Any, dict[str, Any]]:
    from SpiffWorkflow.bpmn.parser import BpmnParser

    parser = BpmnParser()
    parser.add_bpmn_file(BPMN_FILE)
    return parser.get_spec(PROCESS_ID), parser.get_subprocess_specs(PROCESS_ID)


class SpiffClient:
    """One client thread: runs whole cases (submit, then approve) against its own connection."""

    def __init__(self, dsn: str, spec: Any, subprocess_specs: dict[str, Any], seed: int) -> None:
        from SpiffWorkflow.bpmn import BpmnWorkflow
        from SpiffWorkflow.bpmn.serializer import BpmnWorkflowSerializer
        from SpiffWorkflow.util.task import TaskState

        self._workflow_cls = BpmnWorkflow
        self._ready = TaskState.READY
        self.serializer = BpmnWorkflowSerializer(BpmnWorkflowSerializer.configure())
        self.spec = spec
        self.subprocess_specs = subprocess_specs
        self.conn = psycopg.connect(dsn)
        self.rng = random.Random(seed)

    def _complete(self, workflow: Any, task_name: str, data: dict[str, Any]) -> None:
        tasks = workflow.get_tasks(state=self._ready, manual=True)
        task = next(t for t in tasks if t.task_spec.name == task_name)
        task.data.update(data)
        task.run()
        workflow.do_engine_steps()

    def _status(self, workflow: Any) -> str:
        if workflow.is_completed():
            return "completed"
        ready = workflow.get_tasks(state=self._ready, manual=True)
        return ready[0].task_spec.name if ready else "waiting"

    def submit(self) -> int:
        workflow = self._workflow_cls(self.spec, self.subprocess_specs)
        workflow.do_engine_steps()
        data = {"submitted_by": "bench-analyst", "amount": self.rng.randint(1, 10**6)}
        self._complete(workflow, "submit", data)
        blob = self.serializer.serialize_json(workflow)
        at = _now()
        with self.conn.cursor() as cur:
            cur.execute(
                "INSERT INTO spiff_cases (process, status, serialization, created_at, updated_at) "
                "VALUES (%s, %s, %s::jsonb, %s, %s) RETURNING id",
                (PROCESS_ID, self._status(workflow), blob, at, at),
            )
            case_id = cur.fetchone()[0]
            cur.execute(
                "INSERT INTO spiff_audit (case_id, task, actor, at, data) VALUES (%s, %s, %s, %s, %s)",
                (case_id, "submit", "bench-analyst", at, Jsonb(data)),
            )
        self.conn.commit()
        return case_id

    def approve(self, case_id: int) -> None:
        with self.conn.cursor() as cur:
            cur.execute(
                "SELECT serialization::text FROM spiff_cases WHERE id = %s FOR UPDATE", (case_id,)
            )
            workflow = self.serializer.deserialize_json(cur.fetchone()[0])
            data = {"approved_by": "bench-approver", "comment": "ok"}
            self._complete(workflow, "approve", data)
            blob = self.serializer.serialize_json(workflow)
            at = _now()
            cur.execute(
                "UPDATE spiff_cases SET status = %s, serialization = %s::jsonb, updated_at = %s "
                "WHERE id = %s",
                (self._status(workflow), blob, at, case_id),
            )
            cur.execute(
                "INSERT INTO spiff_audit (case_id, task, actor, at, data) VALUES (%s, %s, %s, %s, %s)",
                (case_id, "approve", "bench-approver", at, Jsonb(data)),
            )
        self.conn.commit()

    def step(self) -> None:
        self.approve(self.submit())

    def recover(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


def prepare(settings: Settings, dbname: str) -> None:
    database.recreate(settings, dbname)
    with psycopg.connect(settings.dsn(dbname)) as conn:
        conn.execute(SCHEMA)
        conn.commit()


def check(settings: Settings, dbname: str) -> dict[str, int]:
    """Every case is completed and has its two audit rows."""
    with psycopg.connect(settings.dsn(dbname)) as conn:
        cases, completed = conn.execute(
            "SELECT count(*), count(*) FILTER (WHERE status = 'completed') FROM spiff_cases"
        ).fetchone()
        audit = conn.execute("SELECT count(*) FROM spiff_audit").fetchone()[0]
        size = conn.execute(
            "SELECT coalesce(avg(pg_column_size(serialization)), 0)::int FROM spiff_cases"
        ).fetchone()[0]
    return {"cases": cases, "completed": completed, "audit_rows": audit, "avg_row_bytes": size}


def measure(
    settings: Settings, dbname: str, *, clients: int | None = None, duration_s: float | None = None
) -> tuple[LoadResult, dict[str, Any]]:
    spec, subs = parse_spec()
    dsn = settings.dsn(dbname)
    result = run_load(
        lambda i: SpiffClient(dsn, spec, subs, seed=2000 + i),
        clients=clients or settings.clients,
        warmup_s=settings.warmup_s,
        duration_s=duration_s or settings.duration_s,
    )
    return result, check(settings, dbname)


def run(settings: Settings, **kwargs: Any) -> dict[str, Any]:
    import SpiffWorkflow

    dbname = settings.dbname("spiff")
    prepare(settings, dbname)
    try:
        result, checked = measure(settings, dbname, **kwargs)
    finally:
        database.drop(settings, dbname)
    summary = result.summary()
    return {
        "spiffworkflow_version": getattr(SpiffWorkflow, "__version__", _dist_version()),
        "cases_per_s": round(result.per_s, 1),
        "transitions_per_s": round(2 * result.per_s, 1),
        "case_p50_ms": summary["p50_ms"],
        "case_p99_ms": summary["p99_ms"],
        "errors": result.errors,
        "first_error": result.first_error,
        "check": checked,
    }


def _dist_version() -> str:
    from importlib.metadata import version

    return version("SpiffWorkflow")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    args = parser.parse_args()
    print(json.dumps(run(load(), clients=args.clients, duration_s=args.seconds), indent=2))


if __name__ == "__main__":
    main()
