"""The bare-SQL baseline: the row writes of one engine transition, by hand with psycopg 3.

One transition is one transaction on one instance:

1. ``SELECT … FROM workflow_instances WHERE id = %s FOR UPDATE`` (the lock, and
   the chain head ``audit_seq``/``audit_hash`` kept on the row);
2. ``UPDATE workflow_instances`` (state, version, times, SLA, chain head);
3. ``INSERT INTO audit_records`` with a SHA-256 hash chained in Python;
4. ``INSERT INTO outbox`` (one background task);
5. ``UPDATE timers SET status='cancelled'`` for the old state's pending timers;
6. ``INSERT INTO timers`` for the new state's timer;
7. ``COMMIT``.

Instances toggle ``pending`` → ``reviewed`` → ``pending`` on the trigger
``approve``, as ``bench/definitions/bench_toggle.yaml`` does for the engine, and are drawn at random
from a pool so that clients rarely meet on one row. Run alone with
``python -m bench.bare_sql [--clients 16] [--seconds 10] [--pipeline]``.
"""

from __future__ import annotations

import argparse
import hashlib
import json
import random
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from . import database
from .config import Settings, load
from .harness import LoadResult, run_load_processes

DEFINITION = "bench_toggle"
DEFINITION_VERSION = 1
TRIGGER = "approve"
NEXT_STATE = {"pending": "reviewed", "reviewed": "pending"}
SLA = timedelta(hours=24)
ACTOR = "bench-approver"
ROLES = ["approver"]


def _now() -> datetime:
    return datetime.now(UTC).replace(tzinfo=None)


def _iso(at: datetime) -> str:
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


GENESIS = "0" * 64


def chain_hash(record: dict[str, Any]) -> str:
    """SHA-256 over the canonical JSON of the record, ``prev_hash`` included (the engine's format)."""
    body = json.dumps(
        record, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    return hashlib.sha256(body.encode("utf-8")).hexdigest()


def seed_pool(conn: psycopg.Connection, count: int) -> tuple[int, int]:
    """Add ``count`` open bench instances in ``pending``, each with its ``started`` record
    and its pending timer; returns their id range."""
    from .scale_data import BENCH_WORKFLOW, add_instances

    ids = add_instances(
        conn, count, audit_per_instance=1, open_fraction=1.0, workflows=BENCH_WORKFLOW
    )
    conn.commit()
    return ids


class BareClient:
    """One client: its own connection, firing on random instances of the pool."""

    _LOCK = (
        "SELECT definition, definition_version, state, version, subject_type, subject_id, "
        "audit_seq, audit_hash "
        "FROM workflow_instances WHERE id = %s FOR UPDATE"
    )
    _UPDATE = (
        "UPDATE workflow_instances SET state = %s, version = version + 1, is_open = true, breached = false, "
        "updated_at = %s, state_entered_at = %s, sla_due_at = %s, audit_seq = %s, audit_hash = %s "
        "WHERE id = %s"
    )
    _AUDIT = (
        "INSERT INTO audit_records (stream, seq, kind, instance_id, subject, definition, "
        "definition_version, trigger, from_state, to_state, actor, roles, at, comment, payload, "
        "request_id, idempotency_key, prev_hash, hash) "
        "VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s, %s)"
    )
    _OUTBOX = (
        "INSERT INTO outbox (task, args, instance_id, status, attempts, created_at) "
        "VALUES (%s, %s, %s, 'pending', 0, %s)"
    )
    _CANCEL = (
        "UPDATE timers SET status = 'cancelled' "
        "WHERE instance_id = %s AND state = %s AND status = 'pending'"
    )
    _TIMER = (
        "INSERT INTO timers (kind, instance_id, state, trigger, args, key, due_at, status, created_at) "
        "VALUES ('transition', %s, %s, 'escalate', %s, NULL, %s, 'pending', %s)"
    )

    def __init__(self, dsn: str, id_range: tuple[int, int], *, pipeline: bool, seed: int) -> None:
        self.conn = psycopg.connect(dsn)
        self.lo, self.hi = id_range
        self.pipeline = pipeline
        self.rng = random.Random(seed)
        self.seed = seed
        self.n = 0

    def step(self) -> None:
        self.fire(self.rng.randint(self.lo, self.hi))

    def fire(self, iid: int) -> tuple[str, int]:
        """One transition of instance ``iid``, committed; returns its new state and version."""
        conn = self.conn
        with conn.cursor() as cur:
            cur.execute(self._LOCK, (iid,))
            definition, def_version, state, version, subject_type, subject_id, seq, prev = (
                cur.fetchone()
            )
            to_state = NEXT_STATE[state]
            at = _now()
            seq += 1
            version += 1
            self.n += 1
            request_id = f"bench-{self.seed}-{self.n}"
            stream = f"workflow:{iid}"
            subject = (
                f"{subject_type}:{subject_id}" if subject_type and subject_id is not None else None
            )
            prev = prev or GENESIS
            record = {
                "stream": stream,
                "seq": seq,
                "kind": "transition",
                "instance_id": iid,
                "subject": subject,
                "definition": definition,
                "definition_version": def_version,
                "trigger": TRIGGER,
                "from_state": state,
                "to_state": to_state,
                "actor": ACTOR,
                "roles": sorted(ROLES),
                "at": _iso(at),
                "comment": None,
                "payload": {},
                "request_id": request_id,
                "idempotency_key": None,
                "prev_hash": prev,
            }
            digest = chain_hash(record)
            writes = [
                (self._UPDATE, (to_state, at, at, at + SLA, seq, digest, iid)),
                (
                    self._AUDIT,
                    (
                        stream,
                        seq,
                        "transition",
                        iid,
                        subject,
                        definition,
                        def_version,
                        TRIGGER,
                        state,
                        to_state,
                        ACTOR,
                        Jsonb(ROLES),
                        at,
                        None,
                        Jsonb({}),
                        request_id,
                        None,
                        prev,
                        digest,
                    ),
                ),
                (
                    self._OUTBOX,
                    ("notify", Jsonb({"instance_id": iid, "version": version}), iid, at),
                ),
                (self._CANCEL, (iid, state)),
                (self._TIMER, (iid, to_state, Jsonb({}), at + SLA, at)),
            ]
            if self.pipeline:
                with conn.pipeline():
                    for q, params in writes:
                        cur.execute(q, params)
            else:
                for q, params in writes:
                    cur.execute(q, params)
        conn.commit()
        return to_state, version

    def recover(self) -> None:
        self.conn.rollback()

    def close(self) -> None:
        self.conn.close()


def process_clients(dsn: str, id_range: tuple[int, int], pipeline: bool):
    """The per-client factory of one load process."""
    return lambda i: BareClient(dsn, id_range, pipeline=pipeline, seed=1000 + i)


def measure(
    settings: Settings,
    dbname: str,
    id_range: tuple[int, int],
    *,
    pipeline: bool = False,
    clients: int | None = None,
    duration_s: float | None = None,
    processes: int | None = None,
) -> LoadResult:
    """``clients`` connections spread over ``processes`` processes (``settings.processes``),
    the same layout as the engine's clients."""
    return run_load_processes(
        process_clients,
        (settings.dsn(dbname), id_range, pipeline),
        processes=processes or settings.processes,
        clients=clients or settings.clients,
        warmup_s=settings.warmup_s,
        duration_s=duration_s or settings.duration_s,
    )


def prepare(settings: Settings, dbname: str) -> tuple[int, int]:
    """A fresh database with the engine's schema and a pool of bench instances."""
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    with psycopg.connect(settings.dsn(dbname)) as conn:
        id_range = seed_pool(conn, settings.pool_instances)
    with psycopg.connect(settings.dsn(dbname), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    return id_range


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--clients", type=int, default=None)
    parser.add_argument("--seconds", type=float, default=None)
    parser.add_argument(
        "--pipeline", action="store_true", help="pipeline the writes after the lock"
    )
    args = parser.parse_args()
    settings = load()
    dbname = settings.dbname("bare")
    id_range = prepare(settings, dbname)
    try:
        result = measure(
            settings,
            dbname,
            id_range,
            pipeline=args.pipeline,
            clients=args.clients,
            duration_s=args.seconds,
        )
        print(json.dumps(result.summary(), indent=2))
        from .scale_data import check_chains

        print("chains recomputed with the engine's record_hash:", check_chains(settings, dbname))
    finally:
        database.drop(settings, dbname)


if __name__ == "__main__":
    main()
