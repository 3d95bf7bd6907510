"""Test databases: a throw-away SQLite file or a throw-away PostgreSQL database.

PostgreSQL tests run whenever a server answers on loopback; under ``CI=true`` a
missing server fails them instead of skipping.
"""

from __future__ import annotations

import os
import uuid
from collections.abc import Iterator
from contextlib import contextmanager

import pytest
from sqlalchemy import Connection, Engine, create_engine, text
from sqlalchemy.engine import make_url

PG_ADMIN_URL = os.environ.get(
    "RISKLOOP_TEST_PG", "postgresql+psycopg://postgres@127.0.0.1:5432/postgres"
)
REDIS_TEST_URL = os.environ.get("RISKLOOP_TEST_REDIS", "redis://127.0.0.1:6379/15")
IN_CI = os.environ.get("CI", "").lower() == "true"


def require(service: str, reachable: bool) -> None:
    if reachable:
        return
    if IN_CI:
        pytest.fail(f"{service} is required under CI=true but is not reachable on loopback")
    pytest.skip(f"{service} is not reachable on loopback")


_pg_ok: bool | None = None


def postgres_available() -> bool:
    global _pg_ok
    if _pg_ok is None:
        try:
            eng = create_engine(PG_ADMIN_URL, connect_args={"connect_timeout": 2})
            with eng.connect() as conn:
                conn.execute(text("select 1"))
            eng.dispose()
            _pg_ok = True
        except Exception:
            _pg_ok = False
    return _pg_ok


def redis_available() -> bool:
    try:
        import redis

        redis.Redis.from_url(REDIS_TEST_URL, socket_connect_timeout=1).ping()
        return True
    except Exception:
        return False


_shared: str | None = None


def _shared_database(admin) -> str:  # noqa: ANN001
    """This test process's PostgreSQL database holding every table (created once)."""
    global _shared
    if _shared is None:
        import api.composition  # noqa: F401  (every model of riskloop on Base.metadata)
        from workflow.platform.db import Base

        name = f"riskloop_s_{os.getpid()}_{uuid.uuid4().hex[:8]}"
        with admin.connect() as conn:
            conn.execute(text(f'CREATE DATABASE "{name}"'))
        eng = create_engine(make_url(PG_ADMIN_URL).set(database=name))
        Base.metadata.create_all(eng)
        eng.dispose()
        _shared = name
        import atexit

        def drop() -> None:
            for cached in _engines.values():
                cached.dispose()
            eng2 = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
            with eng2.connect() as conn:
                conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
            eng2.dispose()

        atexit.register(drop)
    return _shared


_engines: dict[str, Engine] = {}


def empty_tables(conn: Connection, tables: list[str]) -> None:
    """Delete every row of ``tables`` and restart every used sequence, in replica mode so that
    foreign keys and the append-only triggers are bypassed (this is test clean-up).

    ``DELETE`` rather than ``TRUNCATE``: between tests the tables hold a few rows, and
    ``TRUNCATE`` of thirty tables replaces thirty files (~0.2 s) where these deletes take a
    few milliseconds. The sequences restart as ``TRUNCATE … RESTART IDENTITY`` would."""
    conn.exec_driver_sql("SET LOCAL session_replication_role = replica")
    conn.exec_driver_sql("".join(f'DELETE FROM "{t}";' for t in tables))
    conn.exec_driver_sql(
        "SELECT setval((quote_ident(schemaname) || '.' || quote_ident(sequencename))::regclass,"
        " 1, false) FROM pg_sequences"
        " WHERE schemaname = current_schema() AND last_value IS NOT NULL"
    )


def truncate_all(url: str) -> None:
    """Empty every table and restart its ids (see ``empty_tables``)."""
    from workflow.platform.db import Base

    eng = _engines.get(url)
    if eng is None:
        eng = _engines[url] = create_engine(url, pool_size=1)
    with eng.begin() as conn:
        empty_tables(conn, [t.name for t in Base.metadata.sorted_tables])


@contextmanager
def shared_postgres() -> Iterator[str]:
    """The process's schema-ready PostgreSQL database, emptied after the block."""
    require("PostgreSQL", postgres_available())
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    name = _shared_database(admin)
    admin.dispose()
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    truncate_all(url)
    try:
        yield url
    finally:
        truncate_all(url)


@contextmanager
def fresh_postgres() -> Iterator[str]:
    """A new empty PostgreSQL database for the duration of the block; yields its URL."""
    require("PostgreSQL", postgres_available())
    name = f"riskloop_t_{os.getpid()}_{uuid.uuid4().hex[:8]}"
    admin = create_engine(PG_ADMIN_URL, isolation_level="AUTOCOMMIT")
    with admin.connect() as conn:
        conn.execute(text(f'CREATE DATABASE "{name}"'))
    url = make_url(PG_ADMIN_URL).set(database=name).render_as_string(hide_password=False)
    try:
        yield url
    finally:
        with admin.connect() as conn:
            conn.execute(text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        admin.dispose()


@contextmanager
def fresh_database(kind: str, tmp_path, *, with_schema: bool = False) -> Iterator[str]:  # noqa: ANN001
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'riskloop.sqlite'}"
    elif with_schema:
        with shared_postgres() as url:
            yield url
    else:
        with fresh_postgres() as url:
            yield url
