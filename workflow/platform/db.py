"""The declarative base shared by the API, the workers and the CLI, and SQLite set-up.

Every SQLite transaction begins ``IMMEDIATE`` (it takes the write lock at once) except on
a connection of :func:`read_only_session`: a deferred ``BEGIN`` that only reads, keeping
a snapshot of a file database in WAL mode while other connections write beside it.
"""

from __future__ import annotations

import logging
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, BigInteger, Connection, Engine, Integer, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import DeclarativeBase, Session

log = logging.getLogger(__name__)

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
    # WAL lets a reader keep its snapshot while writers commit (read_only_session); an
    # in-memory database stays "memory", a file database must switch.
    mode = cursor.execute("PRAGMA journal_mode=WAL").fetchone()[0]
    if mode != "wal" and _is_file_database(cursor):
        log.warning("SQLite stays in journal mode %r, not WAL: readers block writers", mode)
    cursor.execute("PRAGMA busy_timeout=30000")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Overwrite what an UPDATE or DELETE frees: a destroyed data key (PIPL erasure) must
    # not linger in a page's free space, which an online backup copies byte for byte.
    cursor.execute("PRAGMA secure_delete=ON")
    cursor.close()


def _is_file_database(cursor: sqlite3.Cursor) -> bool:
    return any(row[1] == "main" and row[2] for row in cursor.execute("PRAGMA database_list"))


# Connection execution option: this connection's transactions only read (deferred BEGIN).
READ_ONLY = "riskloop_read_only"


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(conn: Connection) -> None:
    if conn.dialect.name == "sqlite":
        read_only = conn.get_execution_options().get(READ_ONLY)
        conn.exec_driver_sql("BEGIN" if read_only else "BEGIN IMMEDIATE")


def keeps_snapshots(session: Session) -> bool:
    """Whether a reader of ``session``'s SQLite database on a connection of its own keeps a
    snapshot without blocking writers: a file database in WAL mode (not ``:memory:``, not
    a rollback journal, where a reader's lock holds writers off)."""
    if not is_sqlite(session.get_bind()):
        return False
    return session.connection().exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"


@contextmanager
def read_only_session(session: Session) -> Iterator[Session]:
    """A session like ``session`` (same ``info``: the runtime) on a SQLite connection of its
    own whose one transaction begins deferred and only reads: it takes no write lock, so
    other connections go on writing, and in WAL mode it sees one snapshot of the database
    (as of its first read) until it ends. ``PRAGMA query_only`` makes SQLite refuse any
    write on it. The transaction is rolled back at the end.
    """
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    if not is_sqlite(engine):
        raise ValueError("read_only_session is for SQLite; PostgreSQL readers never lock")
    with engine.connect() as connection:
        connection.execution_options(**{READ_ONLY: True})
        connection.exec_driver_sql("PRAGMA query_only=ON")
        try:
            with Session(bind=connection, info=dict(session.info), autoflush=False) as reader:
                yield reader
        finally:
            connection.rollback()
            try:  # the connection goes back to the pool: it must write again
                connection.exec_driver_sql("PRAGMA query_only=OFF")
                connection.rollback()
            except Exception:
                connection.invalidate()
                raise
