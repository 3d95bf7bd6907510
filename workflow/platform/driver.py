"""Fixed SQL run on the driver's own cursor, for the statements every request pays.

SQLAlchemy's Core execution (cache lookup, bind processing, a result object with
its column metadata) costs more Python than the statement itself on the hot path
(the token check, the firing's lock and writes). These statements are plain SQL
strings written once; their rows come back as tuples read by position. A driver
error is raised as SQLAlchemy raises it (``IntegrityError``…, a lost connection
invalidated), so ``workflow.platform.transaction.transact`` still retries what it
retries and the pool still recovers from a database restart.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection


def is_postgresql(connection: Connection) -> bool:
    return connection.dialect.name == "postgresql"


_CURSOR = "riskloop_cursor"
_ENCODED: dict[str, bytes] = {}  # the fixed statements, encoded once (psycopg takes bytes)


def rows(connection: Connection, sql: str, params: dict[str, Any]) -> list[Any]:
    """Run ``sql`` (``%(name)s`` parameters, psycopg's style) in ``connection``'s
    transaction and return its rows as tuples.

    One cursor per driver connection serves every call (a new psycopg cursor copies the
    connection's adapters: a tenth of a statement's Python). It lives in the connection's
    ``info``, which the pool clears when it replaces or invalidates the connection."""
    proxied = connection.connection
    info = proxied.info
    cursor = info.get(_CURSOR)
    if cursor is None or cursor.closed:
        cursor = info[_CURSOR] = proxied.dbapi_connection.cursor()  # type: ignore[union-attr]
    query = _ENCODED.get(sql)
    if query is None:
        query = sql.encode("utf-8")
        if len(_ENCODED) < 1000:  # a bound, should statements ever be built per call
            _ENCODED[sql] = query
    try:
        cursor.execute(query, params)
        return list(cursor.fetchall())
    except Exception as exc:
        info.pop(_CURSOR, None)
        cursor.close()
        connection._handle_dbapi_exception(exc, sql, params, cursor, None)
        raise  # not reached: the handler always raises
