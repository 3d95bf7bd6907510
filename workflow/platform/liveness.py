"""Knowing a pooled PostgreSQL connection is alive without a round trip per request.

``pool_pre_ping`` sends a ``SELECT 1`` before every checkout: one more round trip
on every request, for connections that were in use a millisecond ago. Instead,
a connection is pinged at checkout only when it sat idle in the pool for longer
than ``idle_s`` (a restart, a failover or a firewall may have cut it meanwhile),
and one the driver already knows to be broken is replaced without asking. A
connection that dies while busy fails its statement; SQLAlchemy recognises the
disconnect and invalidates the whole pool, so every other connection opened
before it is replaced at its next checkout, and the request is answered 503
(``api.problems``) while the database is away. Pass ``pool_events(...)`` to
``create_engine`` (``pool_events=``).
"""

from __future__ import annotations

import time
from typing import Any

from sqlalchemy.exc import DisconnectionError

IDLE_S = 2.0
_IDLE_SINCE = "riskloop_idle_since"


def pool_events(idle_s: float = IDLE_S) -> list[tuple[Any, str]]:
    """The pool listeners (``create_engine(..., pool_events=...)``)."""

    def on_checkin(dbapi_connection: Any, record: Any) -> None:
        if record is not None:
            record.info[_IDLE_SINCE] = time.monotonic()

    def on_checkout(dbapi_connection: Any, record: Any, proxy: Any) -> None:
        if getattr(dbapi_connection, "closed", False) or getattr(dbapi_connection, "broken", False):
            raise DisconnectionError("the connection was closed")
        idle_since = record.info.get(_IDLE_SINCE)
        if idle_since is None or time.monotonic() - idle_since <= idle_s:
            return
        try:
            cursor = dbapi_connection.cursor()
            try:
                cursor.execute("SELECT 1")
            finally:
                cursor.close()
            dbapi_connection.rollback()
        except Exception as exc:  # any failure: the pool opens a new connection instead
            raise DisconnectionError(f"the pooled connection is gone: {exc}") from exc

    return [(on_checkin, "checkin"), (on_checkout, "checkout")]
