"""Fixed SQL run on the driver's own connection, for the statements every request pays.

SQLAlchemy's Core execution (cache lookup, bind processing, a result object with
its column metadata) costs more Python than the statement itself on the hot path
(the token check, the firing's lock and writes). Even psycopg's cursor, per
``execute``, converts the query's ``%(name)s`` placeholders and reorders the
parameters in Python, decides whether to prepare, and builds a loader for every
column of the result (a quarter of an approve's request thread, py-spy).

These statements are plain SQL strings written once. On PostgreSQL each one is a
server-side prepared statement of the connection: its placeholders are converted
once per process, it is prepared once per connection (and per parameter types),
its rows are read with loaders built once, and it runs as one libpq call
(``PQexecPrepared``, which releases the GIL while it waits). psycopg still adapts
the parameters and loads the values (its C transformer), so values, types and
errors are exactly what its cursor gives: rows come back as tuples read by
position. An error is raised as SQLAlchemy raises it (``IntegrityError``…, a lost
connection invalidated), so ``workflow.platform.transaction.transact`` still
retries what it retries and the pool still recovers from a database restart.

The transaction is begun as psycopg begins it (``BEGIN`` with the connection's
isolation level, read-only and deferrable settings, before the first statement,
unless the connection is in autocommit), but in the same round trip: the
first statement of a transaction, once prepared, is sent as one simple query
``BEGIN; EXECUTE name(…)``, its parameters written as literals as psycopg's
``as_literal`` writes them (integers, UTF-8 strings with standard-conforming quoting
and naive timestamps here, any other value by psycopg). A firing is then three
round trips in all: the lock, the writes, ``COMMIT`` (and, the first time a
connection runs a statement with given parameter types, one more to prepare it,
before its ``BEGIN``). A connection with psycopg's own
preparing on, and any other driver, takes psycopg's cursor instead; none is in
psycopg's pipeline mode here (this module does not handle it). Whoever runs
``DISCARD ALL`` or ``DEALLOCATE ALL`` on a pooled connection makes its next hot
statement fail once (the statements are then prepared again).
"""

from __future__ import annotations

import itertools
import re
from datetime import datetime
from typing import Any

from psycopg import IsolationLevel, pq
from psycopg import errors as pg_errors
from psycopg.adapt import PyFormat, Transformer
from sqlalchemy import Engine, event


def is_postgresql(connection: Any) -> bool:
    """Whether ``connection`` (a Core connection or a lean transaction) is PostgreSQL's."""
    return connection.dialect.name == "postgresql"


_STATE = "riskloop_driver"
_OK = (pq.ExecStatus.TUPLES_OK, pq.ExecStatus.COMMAND_OK)
_IDLE = pq.TransactionStatus.IDLE
_BAD = pq.ConnStatus.BAD
_TEXT = pq.Format.TEXT
_BEGIN = b"BEGIN"
# Errors after which the connection's prepared statements may be gone or stale: forget them.
_STALE = frozenset({"26000", "0A000"})  # invalid statement name; cached plan changed type
_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%%|%")


class _Statement:
    """A statement's text with ``$n`` placeholders and the parameter names in their order."""

    __slots__ = ("query", "names", "formats")

    def __init__(self, sql: str) -> None:
        order: dict[str, int] = {}

        def number(found: re.Match[str]) -> str:
            if found.group(1) is None:
                if found.group(0) == "%%":
                    return "%"
                raise ValueError(f"only %(name)s placeholders and %% are allowed: {sql!r}")
            return f"${order.setdefault(found.group(1), len(order) + 1)}"

        self.query = _PLACEHOLDER.sub(number, sql).encode("utf-8")
        self.names = tuple(order)
        self.formats = [PyFormat.AUTO] * len(order)


_STATEMENTS: dict[str, _Statement] = {}


_NAMES = itertools.count()  # prepared statements' names, unique in the process


class _Shape:
    """One statement prepared on one connection for one set of parameter types: its
    name and the transformer holding its result's loaders (built on its first result)."""

    __slots__ = ("name", "loader", "loaded")

    def __init__(self, dbapi: Any) -> None:
        self.name = b"riskloop_%d" % next(_NAMES)
        self.loader = Transformer(dbapi)
        self.loaded = False


class _Prepared:
    """What one driver connection has prepared, and the transformer that adapts parameters."""

    __slots__ = ("dbapi", "shapes", "dumper")

    def __init__(self, dbapi: Any) -> None:
        self.dbapi = dbapi
        self.shapes: dict[tuple[bytes, tuple[int, ...]], _Shape] = {}
        self.dumper = Transformer(dbapi)

    def literal(self, value: Any, pgconn: Any) -> bytes:
        """``value`` written as an SQL literal, as psycopg's ``as_literal`` writes it: the
        common types here (psycopg's own is a tenth of an approve's lock), the rest by
        psycopg. A string is quoted by doubling its quotes only while the server reads
        backslashes as themselves (``standard_conforming_strings``) and the connection
        speaks UTF-8; the value was already adapted by psycopg, which refuses NUL."""
        kind = type(value)
        if value is None:
            return b"NULL"
        if kind is int:
            return b"%d" % value
        if (
            kind is str
            and pgconn.parameter_status(b"standard_conforming_strings") == b"on"
            and pgconn.parameter_status(b"client_encoding") == b"UTF8"
        ):
            return b"'" + value.replace("'", "''").encode("utf-8") + b"'"
        if kind is datetime and value.tzinfo is None:
            return b"'%s'::timestamp" % value.isoformat(" ").encode("ascii")
        return bytes(self.dumper.as_literal(value))


@event.listens_for(Engine, "connect")
def own_prepared_statements(dbapi_connection: Any, _record: Any) -> None:
    """Every psycopg connection opened by SQLAlchemy leaves preparing statements to this
    module: psycopg, which otherwise prepares a query on its fifth run, deallocates
    *every* prepared statement of the connection at each ``ROLLBACK`` (``DEALLOCATE
    ALL``), this module's too. Other queries are planned at each run, as with
    psycopg's default for their first five runs."""
    if hasattr(dbapi_connection, "prepare_threshold"):
        dbapi_connection.prepare_threshold = None


def rows(connection: Any, sql: str, params: dict[str, Any]) -> list[Any]:
    """Run ``sql`` (``%(name)s`` parameters, psycopg's style; ``%%`` for a ``%``) in
    ``connection``'s transaction and return its rows as tuples. ``connection``: a Core
    connection or a lean transaction (``workflow.platform.lean``)."""
    proxied = connection.connection
    dbapi: Any = proxied.dbapi_connection
    info = proxied.info
    prepared = info.get(_STATE)
    if prepared is None or prepared.dbapi is not dbapi:
        if not drives(dbapi):
            return _by_cursor(connection, dbapi, sql, params)
        prepared = info[_STATE] = _Prepared(dbapi)
    statement = _STATEMENTS.get(sql)
    if statement is None:
        statement = _Statement(sql)
        if len(_STATEMENTS) < 1000:  # a bound, should statements ever be built per call
            _STATEMENTS[sql] = statement
    pgconn = dbapi.pgconn
    try:
        dumper = prepared.dumper
        ordered = [params[n] for n in statement.names]
        values = dumper.dump_sequence(ordered, statement.formats)
        key = (statement.query, dumper.types or ())
        shape = prepared.shapes.get(key)
        begin = pgconn.transaction_status == _IDLE and not dbapi.autocommit
        if shape is None:  # once per connection and shape: prepared before any BEGIN
            shape = _Shape(dbapi)
            _check(_prepare(pgconn, shape.name, statement.query, key[1]), dbapi)
            prepared.shapes[key] = shape
        if begin:
            # BEGIN and the statement in one round trip: one simple query, which runs the
            # prepared statement with its parameters as literals
            literals = b", ".join([prepared.literal(value, pgconn) for value in ordered])
            query = b"%s; EXECUTE %s" % (_begin(dbapi), shape.name)
            if ordered:
                query += b"(" + literals + b")"
            result = _check(_exec(pgconn, query), dbapi)
        else:
            result = _check(_exec_prepared(pgconn, shape.name, values, dumper.formats), dbapi)
        loader = shape.loader
        if shape.loaded:
            loader.set_pgresult(result, set_loaders=False)
        else:
            loader.set_pgresult(result)
            shape.loaded = True
        found = loader.load_rows(0, result.ntuples, tuple)
        loader.set_pgresult(None, set_loaders=False)
        return found
    except Exception as exc:
        if isinstance(exc, pg_errors.Error) and exc.sqlstate in _STALE:
            info.pop(_STATE, None)
        connection._handle_dbapi_exception(exc, sql, params, None, None)
        raise  # not reached: the handler always raises


_COMMIT = b"COMMIT"


def commit(connection: Any) -> None:
    """``COMMIT`` the transaction of ``connection`` (a psycopg one; a Core connection or
    a lean transaction) in one libpq call, so that a Core ``commit()`` that follows only
    does its bookkeeping: psycopg finds the transaction ended and sends nothing. A
    connection without a transaction in progress, or of another driver, is left to
    SQLAlchemy. An error (a deferred constraint, a lost connection) is raised as
    SQLAlchemy raises it."""
    dbapi: Any = connection.connection.dbapi_connection
    pgconn = getattr(dbapi, "pgconn", None)
    if pgconn is None or pgconn.transaction_status == _IDLE:
        return
    try:
        _check(_exec(pgconn, _COMMIT), dbapi)
    except Exception as exc:
        connection._handle_dbapi_exception(exc, "COMMIT", {}, None, None)
        raise  # not reached: the handler always raises


# Each of the three is one round trip to the server (tests count them). ``_exec`` is
# libpq's PQexec (a simple query), not Python's exec.
def _exec(pgconn: Any, query: bytes) -> Any:
    return pgconn.exec_(query)


def _prepare(pgconn: Any, name: bytes, query: bytes, types: tuple[int, ...]) -> Any:
    return pgconn.prepare(name, query, param_types=types)


def _exec_prepared(pgconn: Any, name: bytes, values: Any, formats: Any) -> Any:
    return pgconn.exec_prepared(name, values, param_formats=formats, result_format=_TEXT)


def _check(result: Any, dbapi: Any) -> Any:
    if result.status not in _OK:
        if dbapi.pgconn.status == _BAD:  # as psycopg says it: the connection is gone
            message = result.error_message.decode("utf-8", "replace").strip()
            raise pg_errors.OperationalError(f"the connection is lost: {message}")
        raise pg_errors.error_from_result(result, encoding=dbapi.info.encoding)
    return result


def drives(dbapi: Any) -> bool:
    """Whether ``dbapi`` is a psycopg connection this module may drive itself: psycopg's
    own prepared statements off (see :func:`own_prepared_statements`)."""
    return getattr(dbapi, "pgconn", None) is not None and dbapi.prepare_threshold is None


def _begin(dbapi: Any) -> bytes:
    """``BEGIN`` with the connection's transaction settings, as psycopg writes it."""
    level, read_only, deferrable = dbapi.isolation_level, dbapi.read_only, dbapi.deferrable
    if level is None and read_only is None and deferrable is None:
        return _BEGIN
    parts = [_BEGIN]
    if level is not None:
        parts.append(b"ISOLATION LEVEL " + IsolationLevel(level).name.replace("_", " ").encode())
    if read_only is not None:
        parts.append(b"READ ONLY" if read_only else b"READ WRITE")
    if deferrable is not None:
        parts.append(b"DEFERRABLE" if deferrable else b"NOT DEFERRABLE")
    return b" ".join(parts)


def _by_cursor(connection: Any, dbapi: Any, sql: str, params: dict[str, Any]) -> list[Any]:
    cursor = dbapi.cursor()
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    except Exception as exc:
        connection._handle_dbapi_exception(exc, sql, params, cursor, None)
        raise  # not reached: the handler always raises
    finally:
        cursor.close()
