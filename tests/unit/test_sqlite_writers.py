"""The writers of one process take turns on a SQLite database file in order, without
SQLite's busy handler (workflow.platform.db.WriterQueue)."""

from __future__ import annotations

import gc
import os
import threading
import warnings
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from workflow.platform import db as platform_db
from workflow.platform.db import WriterQueue, WriterReentered, read_only_session


@pytest.fixture
def database(tmp_path: Path) -> Iterator[tuple[Engine, WriterQueue]]:
    path = tmp_path / "writers.sqlite"
    engine = create_engine(f"sqlite:///{path}", pool_size=8, max_overflow=0)
    with engine.begin() as connection:
        connection.exec_driver_sql("CREATE TABLE t (x INTEGER PRIMARY KEY)")
    queue = WriterQueue.of(os.path.realpath(path))
    try:
        yield engine, queue
    finally:
        engine.dispose()


def _until(condition: Callable[[], bool]) -> None:
    """Wait for ``condition`` (another thread's progress); a hang guard, no timing assertion."""
    done = threading.Event()
    for _ in range(6000):
        if condition():
            return
        done.wait(0.01)
    raise AssertionError("the other threads did not get there")


def _rows(engine: Engine) -> list[int]:
    with engine.connect() as connection:
        return list(connection.execute(text("SELECT x FROM t ORDER BY x")).scalars())


def test_writers_queue_in_order_and_proceed_when_the_holder_commits(
    database: tuple[Engine, WriterQueue],
) -> None:
    engine, queue = database
    order: list[int] = []
    failures: list[BaseException] = []

    def write(n: int) -> None:
        try:
            with engine.begin() as connection:
                order.append(n)
                connection.exec_driver_sql(f"INSERT INTO t VALUES ({n})")
        except BaseException as e:  # reported below
            failures.append(e)

    threads = [threading.Thread(target=write, args=(n,)) for n in (1, 2, 3)]
    with engine.begin() as holder:
        holder.exec_driver_sql("INSERT INTO t VALUES (0)")
        for n, thread in enumerate(threads, start=1):
            thread.start()
            _until(lambda n=n: queue.waiting() == n)  # queued one after the other
        # they wait in the process, not in SQLite's busy handler: none has begun
        assert order == [] and queue.waiting() == 3
    for thread in threads:
        thread.join(timeout=60)
    assert not any(thread.is_alive() for thread in threads)
    assert failures == []
    assert order == [1, 2, 3]  # first come, first served
    assert _rows(engine) == [0, 1, 2, 3]
    assert queue.holder is None and queue.waiting() == 0


def test_a_failed_transaction_gives_the_turn_back(database: tuple[Engine, WriterQueue]) -> None:
    engine, queue = database
    with pytest.raises(ZeroDivisionError), engine.begin() as connection:
        connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        assert queue.holder is not None
        _ = 1 / 0
    assert queue.holder is None
    with Session(engine) as session:  # a flush that fails, then the session's rollback
        session.execute(text("INSERT INTO t VALUES (2)"))
        with pytest.raises(IntegrityError):
            session.execute(text("INSERT INTO t VALUES (2)"))
        assert queue.holder is not None
        session.rollback()
        assert queue.holder is None
    with engine.connect() as connection:  # a connection invalidated mid-transaction
        connection.exec_driver_sql("INSERT INTO t VALUES (3)")
        connection.invalidate()
    assert queue.holder is None
    with Session(engine) as session:  # a session closed without commit or rollback
        session.execute(text("INSERT INTO t VALUES (4)"))
    assert queue.holder is None
    # another thread writes at once
    thread = threading.Thread(target=lambda: _insert(engine, 5))
    thread.start()
    thread.join(timeout=60)
    assert not thread.is_alive()
    assert _rows(engine) == [5]


def _insert(engine: Engine, n: int) -> None:
    with engine.begin() as connection:
        connection.exec_driver_sql(f"INSERT INTO t VALUES ({n})")


def test_a_read_only_session_takes_no_turn(database: tuple[Engine, WriterQueue]) -> None:
    engine, queue = database
    with Session(engine) as session, read_only_session(session) as reader:
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
        assert queue.holder is None
        # a writer of this very thread goes ahead while the reader's transaction is open
        _insert(engine, 1)
        assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 0
    assert queue.holder is None and _rows(engine) == [1]


def test_a_second_write_transaction_of_the_holding_thread_is_refused(
    database: tuple[Engine, WriterQueue],
) -> None:
    engine, queue = database
    with engine.begin() as first:
        first.exec_driver_sql("INSERT INTO t VALUES (1)")
        with pytest.raises(WriterReentered, match="already holds a write transaction"):
            _insert(engine, 2)
        assert queue.waiting() == 0
        first.exec_driver_sql("INSERT INTO t VALUES (3)")
    assert queue.holder is None and _rows(engine) == [1, 3]


def test_a_writer_waiting_longer_than_the_busy_timeout_gets_database_is_locked(
    database: tuple[Engine, WriterQueue], monkeypatch: pytest.MonkeyPatch
) -> None:
    engine, queue = database
    monkeypatch.setattr(platform_db, "BUSY_TIMEOUT_MS", 50)
    errors: list[BaseException] = []

    def write() -> None:
        try:
            _insert(engine, 2)
        except OperationalError as e:
            errors.append(e)

    with engine.begin() as holder:
        holder.exec_driver_sql("INSERT INTO t VALUES (1)")
        thread = threading.Thread(target=write)
        thread.start()
        thread.join(timeout=60)
        assert not thread.is_alive()
    assert len(errors) == 1 and "database is locked" in str(errors[0])
    assert queue.waiting() == 0 and queue.holder is None
    _insert(engine, 3)
    assert _rows(engine) == [1, 3]


def test_an_in_memory_database_has_no_queue() -> None:
    engine = create_engine("sqlite://")
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            assert platform_db._WRITER not in connection.connection.info
    finally:
        engine.dispose()


def test_a_connection_dropped_mid_transaction_gives_the_turn_back_when_collected(
    database: tuple[Engine, WriterQueue],
) -> None:
    """Neither committed, rolled back nor closed: the pool's clean-up of the garbage
    connection (checkin, or close) gives the turn back."""
    engine, queue = database
    connection = engine.connect()
    connection.exec_driver_sql("INSERT INTO t VALUES (1)")
    assert queue.holder is not None
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # SQLAlchemy warns of the non-checked-in connection
        del connection
        gc.collect()
    assert queue.holder is None
    _insert(engine, 2)
    assert _rows(engine) == [2]
