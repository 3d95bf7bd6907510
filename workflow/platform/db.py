"""The declarative base shared by the API, the workers and the CLI, and SQLite set-up."""

from __future__ import annotations

import sqlite3
from typing import Any

from sqlalchemy import JSON, BigInteger, Engine, Integer, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase

NAMING_CONVENTION = {
    "ix": "ix_%(column_0_label)s",
    "uq": "uq_%(table_name)s_%(column_0_N_name)s",
    "ck": "ck_%(table_name)s_%(constraint_name)s",
    "fk": "fk_%(table_name)s_%(column_0_name)s_%(referred_table_name)s",
    "pk": "pk_%(table_name)s",
}

# Session.info key of the engine object (workflow.engine.runtime): the composition root's
# session factories put it there, so code holding a session reaches the engine's settings,
# catalog and outbox sender without a process-wide global.
RUNTIME_KEY = "riskloop"

# JSONB on PostgreSQL (indexable, compact), JSON text elsewhere.
JsonType = JSON().with_variant(JSONB(), "postgresql")
# SQLite autoincrements only INTEGER PRIMARY KEY; PostgreSQL gets 64-bit ids.
BigId = BigInteger().with_variant(Integer(), "sqlite")


class Base(DeclarativeBase):
    """Base of every table; Flask-SQLAlchemy is built on it with ``model_class=Base``."""

    metadata = MetaData(naming_convention=NAMING_CONVENTION)


def is_sqlite(bind: Any) -> bool:
    return bind.dialect.name == "sqlite"


@event.listens_for(Engine, "connect")
def _sqlite_on_connect(dbapi_connection: Any, _record: Any) -> None:
    if not isinstance(dbapi_connection, sqlite3.Connection):
        return
    # Manage transactions ourselves so that every one begins IMMEDIATE (below):
    # a deferred transaction that reads then writes fails with "database is
    # locked" when another writer got in between, which loses work under load.
    dbapi_connection.isolation_level = None
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Overwrite what an UPDATE or DELETE frees: a destroyed data key (PIPL erasure) must
    # not linger in a page's free space, which an online backup copies byte for byte.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(conn: Any) -> None:
    if conn.dialect.name == "sqlite":
        conn.exec_driver_sql("BEGIN IMMEDIATE")
