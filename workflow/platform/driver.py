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


def rows(connection: Connection, sql: str, params: dict[str, Any]) -> list[Any]:
    """Run ``sql`` (``%(name)s`` parameters, psycopg's style) in ``connection``'s
    transaction and return its rows as tuples."""
    cursor = connection.connection.dbapi_connection.cursor()  # type: ignore[union-attr]
    try:
        cursor.execute(sql, params)
        return list(cursor.fetchall())
    except Exception as exc:
        connection._handle_dbapi_exception(exc, sql, params, cursor, None)
        raise  # not reached: the handler always raises
    finally:
        cursor.close()
