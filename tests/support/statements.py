"""What the driver is asked to run: the statements psycopg's cursors execute, the fixed
statements of the hot path (``workflow.platform.driver.rows``) and the COMMITs it sends
(``workflow.platform.driver.commit``)."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg

from workflow.platform import driver


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """Collect every statement psycopg's cursors and the hot path's driver execute
    meanwhile, as text, and each COMMIT the driver sends."""
    sent: list[str] = []
    original = psycopg.Cursor.execute
    original_rows = driver.rows
    original_exec = driver._exec

    def counted(self, query, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        sent.append(query.decode() if isinstance(query, bytes) else str(query))
        return original(self, query, *args, **kwargs)

    def counted_rows(connection, sql, params):  # noqa: ANN001, ANN202
        sent.append(sql)
        return original_rows(connection, sql, params)

    def counted_exec(pgconn, query):  # noqa: ANN001, ANN202
        if query == b"COMMIT":  # the rest is a statement of driver.rows, counted there
            sent.append("COMMIT")
        return original_exec(pgconn, query)

    psycopg.Cursor.execute = counted  # type: ignore[method-assign]
    driver.rows = counted_rows
    driver._exec = counted_exec
    try:
        yield sent
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]
        driver.rows = original_rows
        driver._exec = original_exec


def first_words(statements: list[str]) -> list[str]:
    return [statement.split()[0] for statement in statements]
