"""Creating, filling the schema of, and dropping the benchmark's own databases."""

from __future__ import annotations

import psycopg
from psycopg import sql

from .config import Settings


def recreate(settings: Settings, dbname: str) -> None:
    """Drop ``dbname`` if it exists and create it empty."""
    with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def drop(settings: Settings, dbname: str) -> None:
    if settings.keep_databases:
        return
    with psycopg.connect(settings.dsn("postgres"), autocommit=True) as conn:
        conn.execute(
            sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname))
        )


def create_schema(settings: Settings, dbname: str) -> None:
    """The engine's tables, exactly as its SQLAlchemy models declare them."""
    from sqlalchemy import create_engine

    import api.composition  # noqa: F401  (every table of riskloop, plug-in included)
    from workflow.platform.db import Base

    engine = create_engine(settings.sqlalchemy_url(dbname))
    try:
        Base.metadata.create_all(engine)
    finally:
        engine.dispose()


def server_version(settings: Settings) -> str:
    with psycopg.connect(settings.dsn("postgres")) as conn:
        return conn.execute("SHOW server_version").fetchone()[0]


def table_sizes(settings: Settings, dbname: str) -> dict[str, int]:
    """Row estimates of the engine's big tables (after ANALYZE)."""
    with psycopg.connect(settings.dsn(dbname)) as conn:
        rows = conn.execute(
            "SELECT relname, reltuples::bigint FROM pg_class WHERE relname = ANY(%s)",
            (["workflow_instances", "audit_records", "outbox", "timers"],),
        ).fetchall()
    return {name: int(n) for name, n in rows}


# The field-encryption key of the engine objects the sections build (shipped_runtime):
# what a section stores encrypted by hand must be sealed with it.
KEY = "3q2-7wEjT5Ue8gGz8ff6k8pO1o0mQ4nH9Tk8yq1bZ3I="


def shipped_runtime(settings: Settings, dbname: str):  # noqa: ANN201
    """(engine, the engine object over it with the shipped definitions, not yet synced);
    the caller disposes of the engine."""
    from pathlib import Path

    from sqlalchemy import create_engine

    import definitions
    from api import composition

    engine = create_engine(settings.sqlalchemy_url(dbname))
    rt = composition.build_runtime(
        engine,
        {"RISKLOOP_TIMEZONE": "Asia/Shanghai"},
        folders=[Path(definitions.__file__).parent],
        keys=[KEY],
    )
    return engine, rt
