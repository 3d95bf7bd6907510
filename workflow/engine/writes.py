"""The rows one firing reads and writes, and how they reach the database.

``fire`` decides everything first and then hands a ``TransitionWrites`` to
``persist``. On PostgreSQL a firing is three round trips: the lock (with the
idempotency record read in the same statement), every write in one statement of
data-modifying CTEs (instance row with the chain head, audit record, timers
cancelled and armed, outbox rows, idempotency record), and COMMIT. Elsewhere
(SQLite) the same rows are written by one Core statement each. Statements are
built once per shape and kept; rows come back as plain columns, and the instance
handed to guards and effects is a transient ``WorkflowInstance`` that no session
tracks (its changes are written here, by the one UPDATE).
"""

from __future__ import annotations

import json
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Table, bindparam, insert, select, update
from sqlalchemy.orm import Session, configure_mappers
from sqlalchemy.orm.attributes import set_committed_value
from sqlalchemy.orm.util import identity_key

from workflow.platform import driver, lean
from workflow.records import outbox, timers
from workflow.records.identity import Actor
from workflow.records.models import (
    AuditRecord,
    IdempotencyRecord,
    OutboxMessage,
    Timer,
    WorkflowInstance,
)

_INSTANCES: Table = WorkflowInstance.__table__  # type: ignore[assignment]
_AUDIT: Table = AuditRecord.__table__  # type: ignore[assignment]
_OUTBOX: Table = OutboxMessage.__table__  # type: ignore[assignment]
_TIMERS: Table = Timer.__table__  # type: ignore[assignment]
_KEYS: Table = IdempotencyRecord.__table__  # type: ignore[assignment]

# Every column of the instance row, in table order: what the lock reads.
COLUMNS: tuple[str, ...] = tuple(c.key for c in _INSTANCES.columns)
_JSON_COLUMNS = frozenset({"assignees", "data"})

# What every firing writes on the instance row (one statement shape); any other column
# an effect changed (``data`` mostly) is added to it.
MOVED = (
    "state",
    "version",
    "updated_at",
    "state_entered_at",
    "is_open",
    "sla_due_at",
    "breached",
    "audit_seq",
    "audit_hash",
)
_OTHERS = tuple(c for c in COLUMNS if c not in MOVED and c != "id")


@dataclass(frozen=True)
class Prior:
    """The idempotency record of an earlier call with the same key."""

    instance_id: int
    trigger: str
    result: dict[str, Any]


class Credential(Protocol):
    """Who acts, found by the lock's own statement instead of by one of its own before it
    (the API's bearer token: ``workflow.accounts.users.TokenCredential``). The engine
    knows nothing of what it is; it asks for a query and hands back the row.

    - ``pg_query``: a SELECT (PostgreSQL) of at most one row whose first two columns are
      ``ok``, whether it may act at all (the case's row is locked only then, so a caller
      without a valid credential never holds a lock), and ``actor``, the name its
      idempotency records are kept under; its parameters are named ``cred_…``.
    - ``actor_of``: that row (None: no row) as the actor; raises when it may not act.
    - ``resolve``: the actor found by a statement of its own (SQLite).
    """

    def pg_query(self) -> tuple[str, dict[str, Any]]: ...

    def actor_of(self, row: Sequence[Any] | None) -> Actor: ...

    def resolve(self, session: Session) -> Actor: ...


@dataclass
class Locked:
    """What the lock step read: the instance (None when there is no such row) and the
    idempotency record of the key (None without one).

    ``transaction`` is the session's transaction that holds the row lock (PostgreSQL's
    ``FOR UPDATE``), None where nothing is held (SQLite reads without one): a lock taken
    by ``authorize`` is reused by ``fire`` only within that same transaction."""

    instance: WorkflowInstance | None
    prior: Prior | None = None
    values: dict[str, Any] | None = None  # the row as read, for a fresh copy of the instance
    transaction: Any = None
    instance_id: int | None = None
    actor: str | None = None
    key: str | None = None
    connection: Any = None  # the session's connection the row was read on
    acting: Actor | None = None  # who the lock was taken for, when a Credential named them
    # authorize()'s checks made without the action's input, for fire() when it has none:
    # (trigger, expected version, what the checks decided)
    admitted: tuple[str, int | None, Any] | None = None

    def held_for(self, session: Session, instance_id: int, actor: str, key: str | None) -> bool:
        """Whether this lock still covers a firing of ``instance_id`` by ``actor`` with
        ``key`` in ``session``'s current transaction."""
        return (
            self.transaction is not None
            and self.instance_id == instance_id
            and self.actor == actor
            and self.key == key
            and _transaction_of(session) is self.transaction
        )

    def fresh_instance(self) -> WorkflowInstance | None:
        """A new copy of the instance as read (checks made on an earlier copy cannot
        have changed it)."""
        return detached_instance(dict(self.values)) if self.values is not None else None


@dataclass
class TransitionWrites:
    """Everything a firing writes, decided before anything is written."""

    instance_id: int
    row: dict[str, Any]  # the instance row's new values
    audit: dict[str, Any]  # the audit record, hashed
    cancel_state: str | None  # pending timers of this state are cancelled
    timers: list[tuple[str, str, datetime]]  # (state, trigger, due at) armed
    tasks: list[tuple[str, dict[str, Any]]]  # (task, args) queued
    now: datetime
    idempotency: dict[str, Any] | None = None  # the record of the key, if any
    outbox_ids: list[int] = field(default_factory=list)


def _transaction_of(session: Session) -> Any:
    """The session's current database transaction (``workflow.platform.lean``)."""
    return lean.current_transaction(session)


# --- the instance as plain columns -------------------------------------------------

_new_instance = WorkflowInstance._sa_class_manager.new_instance  # type: ignore[attr-defined]
_MAPPER = WorkflowInstance.__mapper__


def detached_instance(values: dict[str, Any]) -> WorkflowInstance:
    """A ``WorkflowInstance`` holding ``values`` as loaded, in no session: reading and
    assigning its attributes works as on a loaded one, with no identity map and no flush."""
    if not _MAPPER.configured:  # a fresh process whose first ORM use this is
        configure_mappers()
    instance: WorkflowInstance = _new_instance()
    instance.__dict__.update(values)
    return instance


def changed_columns(instance: WorkflowInstance, read: dict[str, Any]) -> dict[str, Any]:
    """Columns outside ``MOVED`` that guards or effects assigned since ``read``."""
    now = instance.__dict__
    return {
        key: now[key]
        for key in _OTHERS
        if now.get(key) is not read.get(key) and now.get(key) != read.get(key)
    }


def refresh_loaded(session: Session, instance_id: int, row: dict[str, Any]) -> None:
    """Give a copy of the instance that the session already holds the values just written
    (as committed ones, so that the ORM does not write them again)."""
    identity_map = session.identity_map
    if not identity_map:  # nothing loaded (the API's approve): nothing to bring up to date
        return
    loaded = identity_map.get(identity_key(WorkflowInstance, instance_id))
    if loaded is not None:
        for key, value in row.items():
            set_committed_value(loaded, key, value)


# --- lock ----------------------------------------------------------------------------

_PG_LOCK = f"SELECT {', '.join(COLUMNS)} FROM workflow_instances WHERE id = %(iid)s FOR UPDATE"
_PG_LOCK_WITH_KEY = (
    f"WITH locked AS ({_PG_LOCK}) "
    f"SELECT {', '.join('locked.' + c for c in COLUMNS)}, "
    "prior.instance_id, prior.trigger, prior.result "
    "FROM (SELECT 1) AS one LEFT JOIN locked ON true "
    "LEFT JOIN idempotency_keys AS prior ON prior.actor = %(actor)s AND prior.key = %(key)s"
)
_READ = select(*_INSTANCES.columns).where(_INSTANCES.c.id == bindparam("iid"))
_PRIOR = select(_KEYS.c.instance_id, _KEYS.c.trigger, _KEYS.c.result).where(
    _KEYS.c.actor == bindparam("actor"), _KEYS.c.key == bindparam("key")
)


def lock(session: Session, instance_id: int, actor: str | Credential, key: str | None) -> Locked:
    """Read the idempotency record of ``key`` and lock-and-read the instance row.

    PostgreSQL: one statement (``SELECT … FOR UPDATE`` in a CTE, the key's record
    joined); the result names the transaction that holds the lock. Elsewhere: the
    record first (a replay takes no lock), then the row.

    ``actor``: the acting user's name, or a :class:`Credential` that names them in the
    same statement (PostgreSQL; elsewhere it is resolved first); ``acting`` holds who it
    named. Raises: what the credential's ``actor_of`` raises (nothing is locked then).
    """
    session.flush()  # changes the caller made in the ORM reach the row before it is read
    connection = lean.driver_connection(session)
    acting: Actor | None = None
    if driver.is_postgresql(connection):
        held = _transaction_of(session)
        width = len(COLUMNS)
        if not isinstance(actor, str):
            query, params = actor.pg_query()
            params = {**params, "iid": instance_id, "key": key}
            row = driver.rows(connection, _pg_lock_as(query, key is not None), params)[0]
            tail = width + (3 if key is not None else 0)
            acting = actor.actor_of(row[tail:] if row[tail] is not None else None)
            actor = acting.username
        elif key is None:
            found = driver.rows(connection, _PG_LOCK, {"iid": instance_id})
            row = found[0] if found else (None,)
        else:
            params = {"iid": instance_id, "actor": actor, "key": key}
            row = driver.rows(connection, _PG_LOCK_WITH_KEY, params)[0]
        prior = (
            Prior(row[width], row[width + 1], row[width + 2])
            if key is not None and row[width] is not None
            else None
        )
        values = dict(zip(COLUMNS, row[:width], strict=False)) if row[0] is not None else None
        return Locked(
            detached_instance(dict(values)) if values is not None else None,
            prior,
            values,
            held,
            instance_id,
            actor,
            key,
            connection,
            acting,
        )
    if not isinstance(actor, str):
        acting = actor.resolve(session)
    if key is not None:
        name = acting.username if acting is not None else actor
        hit = connection.execute(_PRIOR, {"actor": name, "key": key}).first()
        if hit is not None:
            return Locked(None, Prior(hit[0], hit[1], hit[2]), connection=connection, acting=acting)
    row = connection.execute(_READ, {"iid": instance_id}).first()
    return Locked(_instance(row) if row is not None else None, connection=connection, acting=acting)


_PG_LOCK_AS: dict[tuple[str, bool], str] = {}


def _pg_lock_as(credential: str, with_key: bool) -> str:
    """The lock's statement with a credential's query in it: the row is locked only when
    the credential's ``ok`` holds; its columns follow the row's (and the key's record)."""
    sql = _PG_LOCK_AS.get((credential, with_key))
    if sql is None:
        prior = ", prior.instance_id, prior.trigger, prior.result" if with_key else ""
        join = (
            " LEFT JOIN idempotency_keys AS prior"
            " ON prior.actor = cred.actor AND prior.key = %(key)s"
            if with_key
            else ""
        )
        sql = _PG_LOCK_AS[(credential, with_key)] = (
            f"WITH cred AS ({credential}), locked AS ("
            f"SELECT {', '.join(COLUMNS)} FROM workflow_instances WHERE id = %(iid)s "
            "AND COALESCE((SELECT ok FROM cred), false) FOR UPDATE) "
            f"SELECT {', '.join('locked.' + c for c in COLUMNS)}{prior}, cred.* "
            f"FROM (SELECT 1) AS one LEFT JOIN cred ON true LEFT JOIN locked ON true{join}"
        )
    return sql


_PG_READ = f"SELECT {', '.join(COLUMNS)} FROM workflow_instances WHERE id = %(iid)s"


def read(session: Session, instance_id: int) -> WorkflowInstance | None:
    """The instance row as plain columns, without a lock (None: no such row): what
    ``authorize`` checks before the action's input is read; ``lock`` reads it again."""
    session.flush()  # as in lock: the caller's ORM changes reach the row first
    connection = lean.driver_connection(session)
    if driver.is_postgresql(connection):
        found = driver.rows(connection, _PG_READ, {"iid": instance_id})
        return _instance(found[0]) if found else None
    row = connection.execute(_READ, {"iid": instance_id}).first()
    return _instance(row) if row is not None else None


def _instance(row: Any) -> WorkflowInstance:
    return detached_instance(dict(zip(COLUMNS, row, strict=False)))


# --- persist -------------------------------------------------------------------------


def persist(session: Session, writes: TransitionWrites, connection: Any = None) -> None:
    """Write ``writes`` in the caller's transaction (``connection``: the session's, when
    the caller has it at hand); the outbox ids are handed to the broker after commit
    (``workflow.records.outbox``)."""
    connection = connection if connection is not None else lean.driver_connection(session)
    if driver.is_postgresql(connection):
        sql = _pg_statement(writes)
        ids = [r[0] for r in driver.rows(connection, sql, _pg_params(writes)) if r[0] is not None]
    else:
        ids = _generic(session, writes)
    writes.outbox_ids = ids
    outbox.after_commit(session, ids)


_AUDIT_COLUMNS = tuple(c.key for c in _AUDIT.columns if c.key != "id")
_AUDIT_JSON = frozenset({"roles", "payload"})
_PG_CACHE: dict[tuple[Any, ...], str] = {}


def _value(name: str, json_column: bool) -> str:
    return f"%({name})s::jsonb" if json_column else f"%({name})s"


def _pg_statement(writes: TransitionWrites) -> str:
    shape = (
        tuple(writes.row),
        writes.cancel_state is not None,
        len(writes.timers),
        len(writes.tasks),
        writes.idempotency is not None,
    )
    sql = _PG_CACHE.get(shape)
    if sql is None:
        sql = _PG_CACHE[shape] = _build_pg_statement(*shape)
    return sql


def _build_pg_statement(
    row: tuple[str, ...], cancel: bool, n_timers: int, n_tasks: int, keyed: bool
) -> str:
    """One statement of data-modifying CTEs; returns the outbox ids (or one NULL)."""
    sets = ", ".join(f"{c} = {_value('r_' + c, c in _JSON_COLUMNS)}" for c in row)
    parts = [f"moved AS (UPDATE workflow_instances SET {sets} WHERE id = %(iid)s)"]
    audit_values = ", ".join(_value("a_" + c, c in _AUDIT_JSON) for c in _AUDIT_COLUMNS)
    parts.append(
        f"recorded AS (INSERT INTO audit_records ({', '.join(_AUDIT_COLUMNS)}) "
        f"VALUES ({audit_values}))"
    )
    if cancel:
        parts.append(
            "cancelled AS (UPDATE timers SET status = 'cancelled' WHERE "
            "instance_id = %(iid)s AND state = %(cancel_state)s AND status = 'pending')"
        )
    if n_timers:
        rows = ", ".join(
            f"('transition', %(iid)s, %(t{i}_state)s, %(t{i}_trigger)s, NULL, '{{}}'::jsonb, NULL, "
            f"%(t{i}_due)s, 'pending', %(now)s, NULL)"
            for i in range(n_timers)
        )
        parts.append(
            "armed AS (INSERT INTO timers (kind, instance_id, state, trigger, job, args, "
            f"key, due_at, status, created_at, fired_at) VALUES {rows})"
        )
    if keyed:
        parts.append(
            "kept AS (INSERT INTO idempotency_keys (actor, key, instance_id, trigger, "
            "result, created_at) VALUES (%(k_actor)s, %(k_key)s, %(iid)s, %(k_trigger)s, "
            "%(k_result)s::jsonb, %(now)s))"
        )
    if n_tasks:
        rows = ", ".join(
            f"(%(q{i}_task)s, %(q{i}_args)s::jsonb, %(iid)s, 'pending', 0, %(now)s, "
            "NULL, NULL, NULL)"
            for i in range(n_tasks)
        )
        parts.append(
            "queued AS (INSERT INTO outbox (task, args, instance_id, status, attempts, "
            f"created_at, sent_at, done_at, last_error) VALUES {rows} RETURNING id)"
        )
        final = "SELECT id FROM queued"
    else:
        final = "SELECT NULL"
    return "WITH " + ", ".join(parts) + " " + final


_dumps = json.dumps


def _pg_params(writes: TransitionWrites) -> dict[str, Any]:
    params: dict[str, Any] = {
        "iid": writes.instance_id,
        "now": writes.now,
        "cancel_state": writes.cancel_state,
    }
    for key, value in writes.row.items():
        params["r_" + key] = _dumps(value) if key in _JSON_COLUMNS else value
    for key, value in writes.audit.items():
        params["a_" + key] = _dumps(value) if key in _AUDIT_JSON else value
    for i, (state, trigger, due) in enumerate(writes.timers):
        params[f"t{i}_state"], params[f"t{i}_trigger"], params[f"t{i}_due"] = state, trigger, due
    for i, (task, args) in enumerate(writes.tasks):
        params[f"q{i}_task"], params[f"q{i}_args"] = task, _dumps(args)
    if writes.idempotency is not None:
        params["k_actor"] = writes.idempotency["actor"]
        params["k_key"] = writes.idempotency["key"]
        params["k_trigger"] = writes.idempotency["trigger"]
        params["k_result"] = _dumps(writes.idempotency["result"])
    return params


_INSERT_AUDIT = insert(_AUDIT)
_INSERT_KEY = insert(_KEYS)
_UPDATE_CACHE: dict[tuple[str, ...], Any] = {}


def _generic(session: Session, writes: TransitionWrites) -> list[int]:
    """The same rows, one Core statement each (SQLite)."""
    connection = session.connection()
    shape = tuple(writes.row)
    statement = _UPDATE_CACHE.get(shape)
    if statement is None:
        statement = _UPDATE_CACHE[shape] = (
            update(_INSTANCES)
            .where(_INSTANCES.c.id == bindparam("iid"))
            .values({key: bindparam(key) for key in shape})
        )
    connection.execute(statement, {"iid": writes.instance_id, **writes.row})
    connection.execute(_INSERT_AUDIT, writes.audit)
    if writes.cancel_state is not None:
        timers.cancel_for_state(session, writes.instance_id, writes.cancel_state)
    for state, trigger, due in writes.timers:
        timers.arm(session, writes.instance_id, state, trigger, due)
    if writes.idempotency is not None:
        connection.execute(
            _INSERT_KEY,
            {**writes.idempotency, "instance_id": writes.instance_id, "created_at": writes.now},
        )
    return [
        outbox.write(session, task, args, instance_id=writes.instance_id, at=writes.now)
        for task, args in writes.tasks
    ]
