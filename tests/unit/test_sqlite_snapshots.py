"""SQLite's journal mode and the read-only snapshot session (workflow.platform.db)."""

from __future__ import annotations

from pathlib import Path

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.orm import Session

from workflow.platform.db import keeps_snapshots, read_only_session


def test_a_file_database_is_in_wal_mode_and_keeps_snapshots(tmp_path: Path) -> None:
    engine = create_engine(f"sqlite:///{tmp_path / 'wal.sqlite'}")
    try:
        with engine.connect() as connection:
            assert connection.exec_driver_sql("PRAGMA journal_mode").scalar() == "wal"
        with Session(engine) as session:
            assert keeps_snapshots(session)
    finally:
        engine.dispose()


def test_an_in_memory_database_keeps_no_snapshot() -> None:
    """Its journal stays in memory: the backtest falls back to the task's transaction."""
    engine = create_engine("sqlite://")
    try:
        with Session(engine) as session:
            assert not keeps_snapshots(session)
    finally:
        engine.dispose()


def test_the_reader_sees_one_snapshot_takes_no_write_lock_and_writes_nothing(
    tmp_path: Path,
) -> None:
    url = f"sqlite:///{tmp_path / 'snap.sqlite'}"
    engine = create_engine(url, pool_size=1, max_overflow=0)  # one connection, reused
    writer = create_engine(url)
    try:
        with engine.begin() as connection:
            connection.exec_driver_sql("CREATE TABLE t (x INTEGER)")
            connection.exec_driver_sql("INSERT INTO t VALUES (1)")
        with Session(engine, info={"marker": 1}) as session:
            with read_only_session(session) as reader:
                assert reader.info["marker"] == 1
                assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
                # a writer (BEGIN IMMEDIATE) gets the lock while the reader is open:
                # a lock held by the reader would make it wait the busy timeout (30 s), then fail
                with writer.begin() as other:
                    other.exec_driver_sql("INSERT INTO t VALUES (2)")
                assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 1
                with pytest.raises(Exception, match="readonly|read-only|query_only"):
                    reader.execute(text("INSERT INTO t VALUES (3)"))
            # the pool's one connection is writable again; a new reader sees the writes
            with engine.begin() as connection:
                connection.exec_driver_sql("INSERT INTO t VALUES (4)")
            with read_only_session(session) as reader:
                assert reader.execute(text("SELECT count(*) FROM t")).scalar_one() == 3
        with (
            pytest.raises(ValueError, match="SQLite"),
            read_only_session(Session(create_engine("postgresql://nobody@127.0.0.1:1/none"))),
        ):
            pass
    finally:
        engine.dispose()
        writer.dispose()
