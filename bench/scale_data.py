"""Bulk history for the scale section: instances, chained audit records, timers, outbox rows.

Built with ``INSERT … SELECT generate_series`` in PostgreSQL, never through the
API, in chunks so that a database can be grown from the small size to the large
one. The secondary indexes of the two big tables are dropped before a large
load and rebuilt after it (faster than maintaining them row by row), then the
tables are vacuumed and analysed so that plans and visibility maps are those of
a settled production database.

The history looks like a few years of use: instances of the four shipped
workflows, most closed in a final state, ``open_fraction`` of them waiting in
a non-final state with an SLA due time spread over the coming weeks, each with
``audit_per_instance`` audit records: a ``started`` record and then
transitions, so that replaying them gives the instance's state and version.

The audit records are real chains in the engine's format (``workflow.records.trail``):
SHA-256 over the canonical JSON of the hashed fields, ``prev_hash`` of the
first record the genesis hash, stream ``workflow:<id>``, the chain head on the
instance row. The JSON text is assembled in SQL (only plain ASCII values are
generated, so no escaping is needed) and the chain is computed level by level
with a recursive query; ``check_chains`` verifies a sample with the engine's own
``record_hash`` so that a format drift in the engine is caught before a
verification benchmark is trusted.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass

import psycopg

from .config import Settings

GENESIS = "0" * 64

# (definition, open states, final states, definition version); the scale section
# takes states and version from the shipped YAML when it is there (scale.workflows_from).
Workflow = tuple[str, list[str], list[str], int]
WORKFLOWS: list[Workflow] = [
    (
        "client_onboarding",
        ["risk_review", "dual_approval", "submitted"],
        ["approved", "rejected", "withdrawn"],
        1,
    ),
    (
        "due_diligence",
        ["collecting", "under_review"],
        ["passed", "passed_with_conditions", "failed"],
        1,
    ),
    (
        "sensitive_edit",
        ["requested", "first_approved"],
        ["applied", "rejected", "cancelled", "expired"],
        1,
    ),
    ("alert_remediation", ["warned", "responded", "rectifying"], ["closed", "dismissed"], 1),
]
BENCH_WORKFLOW: list[Workflow] = [("bench_toggle", ["pending"], ["closed"], 1)]

BIG_TABLES = ("workflow_instances", "audit_records")

INSTANCE_COLUMNS = (
    "id, definition, definition_version, state, version, is_open, subject_type, subject_id, "
    "parent_id, created_by, assignees, data, sla_due_at, breached, created_at, updated_at, "
    "state_entered_at, audit_seq, audit_hash"
)

STAGING = """
CREATE TEMP TABLE IF NOT EXISTS bench_stage_instances
    (LIKE workflow_instances INCLUDING DEFAULTS, PRIMARY KEY (id));
CREATE TEMP TABLE IF NOT EXISTS bench_stage_chain
    (instance_id bigint, seq int, prev_hash text, hash text);
TRUNCATE bench_stage_instances, bench_stage_chain;
"""

# Field expressions over an instance ``i`` and a sequence number ``s`` (1..k).
_F = {
    "stream": "'workflow:' || i.id",
    "kind": "CASE WHEN {s} = 1 THEN 'started' ELSE 'transition' END",
    "subject": "'client:' || i.subject_id",
    "trigger": "CASE WHEN {s} = 1 THEN NULL ELSE 'step' || {s} END",
    "from_state": "CASE WHEN {s} = 1 THEN NULL ELSE 'step' || ({s} - 1) END",
    "to_state": "CASE WHEN {s} = {k} THEN i.state ELSE 'step' || {s} END",
    "actor": "'user' || mod(i.id + {s}, 500)",
    "at": "(i.created_at + {s} * interval '1 minute')",
    "comment": "CASE WHEN mod({s}, 3) = 0 THEN 'bulk comment ' || {s} ELSE NULL END",
    "request_id": "'bulk-' || i.id || '-' || {s}",
    "payload_json": "'{{\"step\":' || {s} || '}}'",
}


def _fields(k: int, s: str) -> dict[str, str]:
    return {name: expr.format(k=k, s=s) for name, expr in _F.items()}


def _j(expr: str) -> str:
    """JSON text of a nullable plain-ASCII string expression."""
    return f"coalesce('\"' || ({expr}) || '\"', 'null')"


def _material(k: int, s: str, prev: str) -> str:
    """The canonical JSON text that ``workflow.records.trail.record_hash`` hashes, built in SQL."""
    f = _fields(k, s)
    at = f'to_char({f["at"]}, \'YYYY-MM-DD"T"HH24:MI:SS.US"Z"\')'
    parts = [
        ("actor", _j(f["actor"])),
        ("at", _j(at)),
        ("comment", _j(f["comment"])),
        ("definition", _j("i.definition")),
        ("definition_version", "i.definition_version::text"),
        ("from_state", _j(f["from_state"])),
        ("idempotency_key", "'null'"),
        ("instance_id", "i.id::text"),
        ("kind", _j(f["kind"])),
        ("payload", f["payload_json"]),
        ("prev_hash", _j(prev)),
        ("request_id", _j(f["request_id"])),
        ("roles", "'[\"risk_officer\"]'"),
        ("seq", f"({s})::text"),
        ("stream", _j(f["stream"])),
        ("subject", _j(f["subject"])),
        ("to_state", _j(f["to_state"])),
        ("trigger", _j(f["trigger"])),
    ]
    body = " || ',' || ".join(f"'\"{name}\":' || {expr}" for name, expr in parts)
    return f"'{{' || {body} || '}}'"


def _sha(text_expr: str) -> str:
    return f"encode(sha256(convert_to({text_expr}, 'UTF8')), 'hex')"


def _case(expr: str, values: list[str]) -> str:
    arms = " ".join(f"WHEN {i} THEN '{v}'" for i, v in enumerate(values))
    return f"(CASE mod({expr}, {len(values)}) {arms} END)"


def _stage_instances_sql(workflows: list[Workflow], open_permille: int) -> str:
    n = len(workflows)
    defs = [w[0] for w in workflows]
    versions = " ".join(f"WHEN {i} THEN {int(w[3])}" for i, w in enumerate(workflows))
    open_states = " ".join(f"WHEN {i} THEN {_case('g / 7', w[1])}" for i, w in enumerate(workflows))
    final_states = " ".join(
        f"WHEN {i} THEN {_case('g / 7', w[2])}" for i, w in enumerate(workflows)
    )
    is_open = f"(mod(g * 7919, 1000) < {open_permille})"
    return f"""
    INSERT INTO bench_stage_instances ({INSTANCE_COLUMNS})
    SELECT %(first)s::bigint + (g - %(lo)s::bigint), {_case("g", defs)},
           (CASE mod(g, {n}) {versions} END),
           CASE WHEN {is_open} THEN (CASE mod(g, {n}) {open_states} END)
                ELSE (CASE mod(g, {n}) {final_states} END) END,
           %(k)s::int, {is_open}, 'client', 1 + mod(g, 200000), NULL, 'user' || mod(g, 500),
           CASE WHEN {is_open} THEN jsonb_build_array('user' || mod(g * 31, 500)) ELSE '[]'::jsonb END,
           jsonb_build_object('amount', mod(g, 100000), 'note', 'bulk history'),
           CASE WHEN {is_open} THEN date_trunc('second', now()::timestamp)
                    + (mod(g, 40000) * interval '1 minute') - interval '3 days'
                ELSE NULL END,
           false,
           date_trunc('second', now()::timestamp) - (mod(g, 900) * interval '1 day') - interval '1 day',
           date_trunc('second', now()::timestamp) - (mod(g, 900) * interval '1 day'),
           date_trunc('second', now()::timestamp) - (mod(g, 900) * interval '1 day'),
           %(k)s::int, ''
    FROM generate_series(%(lo)s::bigint, %(hi)s::bigint) AS g
    """


def _chain_sql(k: int) -> str:
    first = _sha(_material(k, "1", f"'{GENESIS}'"))
    step = _sha(_material(k, "(c.seq + 1)", "c.hash"))
    return f"""
    INSERT INTO bench_stage_chain (instance_id, seq, prev_hash, hash)
    WITH RECURSIVE c(instance_id, seq, prev_hash, hash) AS (
        SELECT i.id, 1, '{GENESIS}'::text, {first}
        FROM bench_stage_instances i
      UNION ALL
        SELECT c.instance_id, c.seq + 1, c.hash, {step}
        FROM c JOIN bench_stage_instances i ON i.id = c.instance_id
        WHERE c.seq < {k}
    )
    SELECT instance_id, seq, prev_hash, hash FROM c
    """


def _audit_sql(k: int) -> str:
    f = _fields(k, "c.seq")
    return f"""
    INSERT INTO audit_records
        (stream, seq, kind, instance_id, subject, definition, definition_version, trigger,
         from_state, to_state, actor, roles, at, comment, payload, request_id, idempotency_key,
         prev_hash, hash)
    SELECT {f["stream"]}, c.seq, {f["kind"]}, i.id, {f["subject"]}, i.definition, i.definition_version,
           {f["trigger"]}, {f["from_state"]}, {f["to_state"]}, {f["actor"]},
           '["risk_officer"]'::jsonb, {f["at"]}, {f["comment"]}, jsonb_build_object('step', c.seq),
           {f["request_id"]}, NULL, c.prev_hash, c.hash
    FROM bench_stage_chain c
    JOIN bench_stage_instances i ON i.id = c.instance_id
    """


MOVE_INSTANCES = f"""
INSERT INTO workflow_instances ({INSTANCE_COLUMNS})
SELECT {
    ", ".join(
        "c.hash" if col.strip() == "audit_hash" else "i." + col.strip()
        for col in INSTANCE_COLUMNS.split(",")
    )
}
FROM bench_stage_instances i JOIN bench_stage_chain c ON c.instance_id = i.id AND c.seq = i.audit_seq
"""

TIMERS_SQL = """
INSERT INTO timers (kind, instance_id, state, trigger, args, key, due_at, status, created_at, fired_at)
SELECT 'transition', i.id, i.state, 'escalate', '{}'::jsonb, NULL,
       coalesce(i.sla_due_at, i.updated_at),
       CASE WHEN i.is_open THEN 'pending' ELSE 'cancelled' END, i.created_at, NULL
FROM bench_stage_instances i
"""

OUTBOX_SQL = """
INSERT INTO outbox (task, args, instance_id, status, attempts, created_at, sent_at, done_at)
SELECT 'notify', jsonb_build_object('instance_id', i.id, 'version', i.version), i.id, 'done', 1,
       i.updated_at, i.updated_at, i.updated_at
FROM bench_stage_instances i
"""


@dataclass
class BuildReport:
    instances: int
    audit_records: int
    seconds: float

    def as_dict(self) -> dict[str, float | int]:
        return {
            "instances": self.instances,
            "audit_records": self.audit_records,
            "seconds": round(self.seconds, 1),
        }


def _table(name: str):
    from workflow.platform.db import Base
    from workflow.records import models  # noqa: F401  (registers the tables)

    return Base.metadata.tables[name]


def _drop_indexes(sa_engine) -> None:
    from sqlalchemy import UniqueConstraint
    from sqlalchemy.schema import DropConstraint

    with sa_engine.begin() as conn:
        for name in BIG_TABLES:
            table = _table(name)
            for index in table.indexes:
                index.drop(conn, checkfirst=True)
            for uc in table.constraints:
                if isinstance(uc, UniqueConstraint):
                    conn.execute(DropConstraint(uc, if_exists=True))


def _create_indexes(sa_engine) -> None:
    from sqlalchemy import UniqueConstraint
    from sqlalchemy.schema import AddConstraint

    with sa_engine.begin() as conn:
        conn.exec_driver_sql("SET maintenance_work_mem = '512MB'")
        for name in BIG_TABLES:
            table = _table(name)
            for index in table.indexes:
                index.create(conn, checkfirst=True)
            for uc in table.constraints:
                if isinstance(uc, UniqueConstraint):
                    conn.execute(AddConstraint(uc))


def add_instances(
    conn: psycopg.Connection,
    count: int,
    *,
    audit_per_instance: int,
    open_fraction: float,
    workflows: list[Workflow] | None = None,
    ordinal_from: int = 1,
    first_id: int | None = None,
) -> tuple[int, int]:
    """Add ``count`` instances with their history; returns their (first, last) id.

    ``first_id`` lets several connections fill disjoint id ranges at once (the
    caller then moves the id sequence past them); by default the ids follow the
    current maximum. Staging tables are temporary, so per connection.
    """
    k = audit_per_instance
    if k < 1:
        raise ValueError("every instance needs at least its 'started' record")
    if first_id is None:
        first_id = conn.execute(
            "SELECT coalesce(max(id), 0) + 1 FROM workflow_instances"
        ).fetchone()[0]
    last = first_id + count - 1
    conn.execute(STAGING)
    conn.execute(
        _stage_instances_sql(workflows or WORKFLOWS, int(round(open_fraction * 1000))),
        {"lo": ordinal_from, "hi": ordinal_from + count - 1, "k": k, "first": first_id},
    )
    conn.execute("ANALYZE bench_stage_instances")
    conn.execute(_chain_sql(k))
    conn.execute(MOVE_INSTANCES)
    conn.execute(_audit_sql(k))
    conn.execute(TIMERS_SQL)
    conn.execute(OUTBOX_SQL)
    conn.execute(
        "SELECT setval('workflow_instances_id_seq', greatest(%s, "
        "(SELECT last_value FROM workflow_instances_id_seq)))",
        (last,),
    )
    conn.execute("TRUNCATE bench_stage_instances, bench_stage_chain")
    return first_id, last


def grow(
    settings: Settings,
    dbname: str,
    total_instances: int,
    *,
    audit_per_instance: int,
    open_fraction: float,
    chunk: int = 50_000,
    parallel: int = 2,
    log: Callable[[str], None] = print,
) -> BuildReport:
    """Add history instances until the table holds ``total_instances`` rows.

    ``parallel`` connections fill disjoint chunks at once (the recursive hash
    chain is CPU work for PostgreSQL, one core per connection).
    """
    import threading

    from sqlalchemy import create_engine

    t0 = time.perf_counter()
    with psycopg.connect(settings.dsn(dbname)) as conn:
        have, base = conn.execute(
            "SELECT count(*), coalesce(max(id), 0) FROM workflow_instances"
        ).fetchone()
    missing = total_instances - have
    if missing <= 0:
        return BuildReport(0, 0, 0.0)
    bulk = missing > 200_000
    chunks = [(off, min(chunk, missing - off)) for off in range(0, missing, chunk)]
    lock = threading.Lock()
    progress = {"done": 0}
    errors: list[BaseException] = []

    def worker() -> None:
        try:
            with psycopg.connect(settings.dsn(dbname)) as conn:
                conn.execute("SET synchronous_commit = off")
                conn.execute("SET work_mem = '256MB'")
                while True:
                    with lock:
                        if not chunks or errors:
                            return
                        off, n = chunks.pop(0)
                    add_instances(
                        conn,
                        n,
                        audit_per_instance=audit_per_instance,
                        open_fraction=open_fraction,
                        ordinal_from=have + off + 1,
                        first_id=base + off + 1,
                    )
                    conn.commit()
                    with lock:
                        progress["done"] += n
                        done = progress["done"]
                    if done == missing or done // 100_000 != (done - n) // 100_000:
                        log(
                            f"  history: +{done:,} of {missing:,} instances "
                            f"({time.perf_counter() - t0:.0f} s)"
                        )
        except BaseException as exc:  # reported by the caller
            errors.append(exc)

    sa_engine = create_engine(settings.sqlalchemy_url(dbname))
    try:
        if bulk:
            _drop_indexes(sa_engine)
        threads = [threading.Thread(target=worker) for _ in range(max(1, parallel))]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        if errors:
            raise errors[0]
        if bulk:
            log("  history: rebuilding indexes")
            _create_indexes(sa_engine)
    finally:
        sa_engine.dispose()
    with psycopg.connect(settings.dsn(dbname), autocommit=True) as conn:
        for table in ("workflow_instances", "audit_records", "timers", "outbox"):
            conn.execute(f"VACUUM ANALYZE {table}")
        # Write the bulk load out now, not during the measurements that follow.
        conn.execute("CHECKPOINT")
    return BuildReport(missing, missing * audit_per_instance, time.perf_counter() - t0)


def check_chains(settings: Settings, dbname: str, sample: int = 50) -> dict[str, int]:
    """Recompute a sample of chains with the engine's own ``record_hash``."""
    from workflow.records.trail import GENESIS as ENGINE_GENESIS
    from workflow.records.trail import HASHED_FIELDS, record_hash

    cols = ", ".join(HASHED_FIELDS)
    bad = checked = 0
    with psycopg.connect(settings.dsn(dbname)) as conn:
        ids = [
            r[0]
            for r in conn.execute(
                "SELECT id FROM workflow_instances ORDER BY audit_seq DESC, random() LIMIT %s",
                (sample,),
            )
        ]
        for iid in ids:
            cur = conn.execute(
                f"SELECT {cols}, hash FROM audit_records WHERE stream = %s ORDER BY seq",
                (f"workflow:{iid}",),
            )
            prev = ENGINE_GENESIS
            for row in cur:
                values = dict(zip(HASHED_FIELDS, row[:-1], strict=True))
                checked += 1
                if values["prev_hash"] != prev or record_hash(values) != row[-1]:
                    bad += 1
                prev = row[-1]
            head = conn.execute(
                "SELECT audit_hash FROM workflow_instances WHERE id = %s", (iid,)
            ).fetchone()[0]
            if head != prev:
                bad += 1
    return {"records_checked": checked, "bad": bad}
