"""What the driver is asked to run: the statements psycopg's cursors execute."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

import psycopg


@contextmanager
def statements_sent() -> Iterator[list[str]]:
    """Collect every statement psycopg's cursors execute meanwhile, as text (the fixed
    statements of the hot path are sent as bytes)."""
    sent: list[str] = []
    original = psycopg.Cursor.execute

    def counted(self, query, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        sent.append(query.decode() if isinstance(query, bytes) else str(query))
        return original(self, query, *args, **kwargs)

    psycopg.Cursor.execute = counted  # type: ignore[method-assign]
    try:
        yield sent
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]


def first_words(statements: list[str]) -> list[str]:
    return [statement.split()[0] for statement in statements]
