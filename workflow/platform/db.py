"""The declarative base shared by the API, the workers and the CLI, and SQLite set-up.

Every SQLite transaction begins ``IMMEDIATE`` (it takes the write lock at once) except on
a connection of :func:`read_only_session`: a deferred ``BEGIN`` that only reads, keeping
a snapshot of a file database in WAL mode while other connections write beside it.

Writers of one process take turns in order (:class:`WriterQueue`, one per SQLite database
file) before they ask SQLite for the write lock: a thread waits for its turn on an
in-process lock handed first come, first served, so at most one thread of the process
waits in SQLite's busy handler (which sleeps in growing steps up to 100 ms and lets a
late-comer overtake a waiter again and again). The turn is taken just before ``BEGIN
IMMEDIATE`` and given back once that transaction's ``COMMIT`` or ``ROLLBACK`` has run,
or when its connection goes back to the pool, is invalidated or closed. A writer that
waits longer than the busy timeout gets SQLite's error, "database is locked"; a thread
that begins a second write transaction while it holds the turn through another
connection (it would wait for itself) is refused at once with :class:`WriterReentered`.
Other processes (the CLI, a second server) still meet SQLite's busy timeout. Read-only
transactions and in-memory databases take no turn; PostgreSQL is untouched.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import threading
import weakref
from collections import deque
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from sqlalchemy import JSON, BigInteger, Connection, Engine, Integer, MetaData, event
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.exc import OperationalError
from sqlalchemy.orm import DeclarativeBase, Session
from sqlalchemy.pool import ConnectionPoolEntry, Pool

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


# How long SQLite's busy handler waits for another connection's write lock, and how long a
# writer waits for its turn among the writers of its process.
BUSY_TIMEOUT_MS = 30000


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
    cursor.execute(f"PRAGMA busy_timeout={BUSY_TIMEOUT_MS}")
    cursor.execute("PRAGMA foreign_keys=ON")
    cursor.execute("PRAGMA synchronous=NORMAL")
    # Overwrite what an UPDATE or DELETE frees: a destroyed data key (PIPL erasure) must
    # not linger in a page's free space, which an online backup copies byte for byte.
    cursor.execute("PRAGMA secure_delete=ON")
    path = _database_file(cursor)
    cursor.close()
    if path is not None:
        _record.info[_WRITER] = _Writer(WriterQueue.of(path))


def _is_file_database(cursor: sqlite3.Cursor) -> bool:
    return _database_file(cursor) is not None


def _database_file(cursor: sqlite3.Cursor) -> str | None:
    """The file of the main database, ``None`` for an in-memory or temporary one."""
    for row in cursor.execute("PRAGMA database_list"):
        if row[1] == "main" and row[2]:
            return os.path.realpath(row[2])
    return None


# Connection execution option: this connection's transactions only read (deferred BEGIN).
READ_ONLY = "riskloop_read_only"


class WriterReentered(RuntimeError):
    """A thread began a write transaction on a SQLite database while it holds the writers'
    turn of that database through another connection: it would wait for itself."""


class WriterQueue:
    """The writers' turn on one SQLite database file within this process: a lock handed
    over in the order it was asked for (first come, first served).

    Its holder is a connection (:class:`_Writer`), not a thread, so whichever thread ends
    the transaction or returns the connection to the pool (the garbage collector's too)
    gives it back.
    """

    _by_file: weakref.WeakValueDictionary[str, WriterQueue] = weakref.WeakValueDictionary()
    _by_file_lock = threading.Lock()

    def __init__(self, path: str) -> None:
        self.path = path
        self._mutex = threading.Lock()
        self._holder: _Writer | None = None
        self._waiting: deque[tuple[_Writer, threading.Lock]] = deque()

    @classmethod
    def of(cls, path: str) -> WriterQueue:
        """The queue of the database file ``path`` (one per file in this process)."""
        with cls._by_file_lock:
            queue = cls._by_file.get(path)
            if queue is None:
                queue = cls._by_file[path] = cls(path)
            return queue

    @property
    def holder(self) -> _Writer | None:
        return self._holder

    def waiting(self) -> int:
        """How many writers wait for their turn."""
        with self._mutex:
            return len(self._waiting)

    def acquire(self, writer: _Writer, timeout: float) -> bool:
        """Wait until ``writer`` holds the turn (``True``) or ``timeout`` seconds passed
        (``False``). Raises :class:`WriterReentered` when the calling thread holds the
        turn through another writer."""
        with self._mutex:
            holder = self._holder
            if holder is writer:
                return True
            writer.thread = threading.get_ident()
            if holder is None and not self._waiting:
                self._hold(writer)
                return True
            if holder is not None and holder.thread == threading.get_ident():
                raise WriterReentered(
                    f"this thread already holds a write transaction on {self.path} "
                    "through another connection; end it before beginning another"
                )
            handed = threading.Lock()
            handed.acquire()
            entry = (writer, handed)
            self._waiting.append(entry)
        try:
            handed_over = handed.acquire(timeout=timeout)
        except BaseException:  # interrupted (KeyboardInterrupt…): leave the queue
            self._leave(writer, entry)
            raise
        if handed_over:
            return True
        with self._mutex:
            if self._holder is writer:  # handed over between the timeout and now
                return True
            self._waiting.remove(entry)
            return False

    def _leave(self, writer: _Writer, entry: tuple[_Writer, threading.Lock]) -> None:
        with self._mutex:
            if self._holder is not writer:
                self._waiting.remove(entry)
                return
        self.release(writer)  # handed over meanwhile: no transaction will give it back

    def release(self, writer: _Writer) -> None:
        """Give the turn to the next waiter, if ``writer`` holds it (else nothing)."""
        with self._mutex:
            if self._holder is not writer:
                return
            self._holder = None
            if self._waiting:
                successor, handed = self._waiting.popleft()
                self._hold(successor)
                handed.release()

    def _hold(self, writer: _Writer) -> None:
        self._holder = writer


class _Writer:
    """One pooled connection's place in its database's :class:`WriterQueue`."""

    __slots__ = ("__weakref__", "queue", "thread")

    def __init__(self, queue: WriterQueue) -> None:
        self.queue = queue
        self.thread: int | None = None  # the thread that asked for the turn last

    @property
    def holds(self) -> bool:
        return self.queue.holder is self

    def take(self) -> None:
        if not self.queue.acquire(self, BUSY_TIMEOUT_MS / 1000):
            raise OperationalError(
                "BEGIN IMMEDIATE",
                None,
                sqlite3.OperationalError("database is locked"),
            )

    def give_back(self) -> None:
        self.queue.release(self)


# ConnectionPoolEntry.info key of a file database connection's _Writer.
_WRITER = "riskloop_writer"


def _holding_writer(conn: Connection) -> _Writer | None:
    if conn.dialect.name != "sqlite" or conn.invalidated or conn.closed:
        return None  # the pool's invalidate / checkin event gives the turn back
    writer = conn.connection.info.get(_WRITER)
    return writer if writer is not None and writer.holds else None


@event.listens_for(Engine, "begin")
def _sqlite_begin_immediate(conn: Connection) -> None:
    if conn.dialect.name != "sqlite":
        return
    if conn.get_execution_options().get(READ_ONLY):
        conn.exec_driver_sql("BEGIN")
        return
    writer: _Writer | None = conn.connection.info.get(_WRITER)
    if writer is None:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
        return
    writer.take()
    try:
        conn.exec_driver_sql("BEGIN IMMEDIATE")
    except BaseException:
        writer.give_back()
        raise


@event.listens_for(Engine, "commit")
def _sqlite_commit_then_give_back(conn: Connection) -> None:
    # The event runs before SQLAlchemy's own COMMIT: commit here so that the next writer
    # finds SQLite's lock free (SQLAlchemy's commit then finds no transaction: a no-op).
    writer = _holding_writer(conn)
    if writer is None:
        return
    try:
        conn.connection.dbapi_connection.commit()  # type: ignore[union-attr]
    except Exception:
        # Still in the transaction: SQLAlchemy's own commit raises the error again, and
        # the rollback (or the pool) that follows gives the turn back.
        return
    writer.give_back()


@event.listens_for(Engine, "rollback")
def _sqlite_rollback_then_give_back(conn: Connection) -> None:
    writer = _holding_writer(conn)
    if writer is None:
        return
    try:
        conn.connection.dbapi_connection.rollback()  # type: ignore[union-attr]
    except Exception:
        log.debug("ROLLBACK before giving the writers' turn back failed", exc_info=True)
    finally:
        writer.give_back()


# A connection that goes back to the pool with its transaction open (a Connection closed
# or garbage-collected without rollback) is rolled back by the pool's reset, which runs
# after the "reset" event and before "checkin": the turn is given back at checkin.
@event.listens_for(Pool, "checkin")
@event.listens_for(Pool, "close")
def _give_back_on_checkin(_dbapi_connection: Any, record: ConnectionPoolEntry) -> None:
    writer = record.info.get(_WRITER)
    if writer is not None:
        writer.give_back()


@event.listens_for(Pool, "invalidate")
def _give_back_on_invalidate(
    _dbapi_connection: Any, record: ConnectionPoolEntry, _exception: BaseException | None
) -> None:
    _give_back_on_checkin(_dbapi_connection, record)


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
