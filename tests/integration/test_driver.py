"""The hot path's driver (workflow.platform.driver) on PostgreSQL: prepared statements of
the connection, BEGIN sent with the first statement, values exactly as psycopg's cursor
gives them, errors and lost connections as SQLAlchemy raises them."""

from __future__ import annotations

import json
from collections.abc import Iterator
from datetime import UTC, datetime, timedelta
from typing import Any

import psycopg
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from sqlalchemy import Engine, create_engine, text
from sqlalchemy.exc import IntegrityError, OperationalError, ProgrammingError

from workflow.platform import driver

_TABLE = (
    "CREATE TABLE probe (id bigserial PRIMARY KEY, name text UNIQUE, at timestamp, "
    "doc jsonb, n bigint, flag boolean)"
)
_INSERT = (
    "INSERT INTO probe (name, at, doc, n, flag) "
    "VALUES (%(name)s, %(at)s, %(doc)s::jsonb, %(n)s, %(flag)s) RETURNING id, name, at, doc, n, flag"
)
_READ = "SELECT id, name, at, doc, n, flag FROM probe WHERE name = %(name)s"


@pytest.fixture
def engine(pg_url: str) -> Iterator[Engine]:
    engine = create_engine(pg_url, pool_size=1, max_overflow=0)
    with engine.begin() as connection:
        connection.execute(text(_TABLE))
    yield engine
    engine.dispose()


def _counted(connection: Any, sql: str, params: dict[str, Any]) -> tuple[list[Any], list[str]]:
    """``driver.rows`` and the libpq calls it made, each one a round trip."""
    calls: list[str] = []
    originals = {name: getattr(driver, name) for name in ("_exec", "_prepare", "_exec_prepared")}

    def counting(name: str) -> Any:
        def counted(*args: Any) -> Any:
            calls.append(name.lstrip("_"))
            return originals[name](*args)

        return counted

    for name in originals:
        setattr(driver, name, counting(name))
    try:
        return driver.rows(connection, sql, params), calls
    finally:
        for name, original in originals.items():
            setattr(driver, name, original)


def test_psycopg_does_not_prepare_on_its_own(engine: Engine) -> None:
    # psycopg's own preparing would DEALLOCATE ALL at every ROLLBACK, the driver's too
    with engine.connect() as connection:
        assert connection.connection.dbapi_connection.prepare_threshold is None


def test_the_first_statement_of_a_transaction_carries_its_begin(engine: Engine) -> None:
    params = {"name": "a", "at": None, "doc": "{}", "n": 1, "flag": True}
    with engine.connect() as connection:
        connection.begin()
        _, calls = _counted(connection, _INSERT, params)
        assert calls == ["prepare", "exec"]  # first run: prepared, then BEGIN with it
        _, calls = _counted(connection, _READ, {"name": "a"})
        assert calls == ["prepare", "exec_prepared"]
        connection.rollback()
        connection.begin()
        found, calls = _counted(connection, _READ, {"name": "a"})
        assert found == [] and calls == ["exec"]  # "BEGIN; EXECUTE …": one round trip
        status = connection.connection.dbapi_connection.pgconn.transaction_status
        assert status == psycopg.pq.TransactionStatus.INTRANS
        _, calls = _counted(connection, _INSERT, {**params, "name": "b"})
        assert calls == ["exec_prepared"]
        connection.commit()
        assert connection.execute(text("SELECT count(*) FROM probe")).scalar() == 1


def _by_cursor(engine: Engine, sql: str, params: dict[str, Any]) -> list[Any]:
    with engine.connect() as connection:
        cursor = connection.connection.dbapi_connection.cursor()
        cursor.execute(sql, params)
        found = cursor.fetchall()
        connection.rollback()
        return found


_TEXT = st.text(st.characters(blacklist_categories=("Cs",), blacklist_characters="\x00"))


@settings(max_examples=60, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    name=_TEXT,
    at=st.none() | st.datetimes(min_value=datetime(1900, 1, 1), max_value=datetime(2200, 1, 1)),
    doc=st.dictionaries(_TEXT, st.none() | st.booleans() | st.integers(-(2**53), 2**53) | _TEXT),
    n=st.none() | st.integers(-(2**63), 2**63 - 1),
    flag=st.none() | st.booleans(),
)
def test_values_come_back_as_the_cursor_gives_them_on_both_paths(
    engine: Engine, name: str, at: datetime | None, doc: dict, n: int | None, flag: bool | None
) -> None:
    params = {"name": name, "at": at, "doc": json.dumps(doc), "n": n, "flag": flag}
    with engine.connect() as connection:
        connection.begin()
        first = driver.rows(connection, _INSERT, params)  # BEGIN with it, once prepared
        again = driver.rows(connection, _READ, {"name": name})  # inside the transaction
        connection.commit()
        connection.begin()
        fresh = driver.rows(connection, _READ, {"name": name})  # its parameter as a literal
        connection.execute(text("DELETE FROM probe"))
        connection.commit()
    expected = _by_cursor(
        engine,
        "SELECT %(id)s::bigint, %(name)s, %(at)s::timestamp, %(doc)s::jsonb, "
        "%(n)s::bigint, %(flag)s::boolean",
        {**params, "id": first[0][0]},
    )
    assert first == again == fresh == expected
    assert first[0][1] == name and first[0][3] == doc


def test_a_constraint_violation_is_sqlalchemys_and_the_connection_goes_on(engine: Engine) -> None:
    params = {"name": "same", "at": datetime(2026, 1, 1), "doc": "[]", "n": 5, "flag": False}
    with engine.connect() as connection:
        connection.begin()
        driver.rows(connection, _INSERT, params)
        driver.rows(connection, _READ, {"name": "same"})
        connection.commit()
        connection.begin()
        with pytest.raises(IntegrityError):
            driver.rows(connection, _INSERT, params)
        connection.rollback()
        connection.begin()
        # the prepared statements outlived the ROLLBACK
        found, calls = _counted(connection, _READ, {"name": "same"})
        assert [row[1] for row in found] == ["same"] and calls == ["exec"]
        connection.rollback()


def test_statements_deallocated_by_someone_are_prepared_again(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.begin()
        driver.rows(connection, _READ, {"name": "x"})
        connection.exec_driver_sql("DEALLOCATE ALL")
        with pytest.raises(ProgrammingError, match="does not exist"):
            driver.rows(connection, _READ, {"name": "x"})
        connection.rollback()
        connection.begin()
        assert driver.rows(connection, _READ, {"name": "x"}) == []
        connection.rollback()


def test_a_lost_connection_is_invalidated_and_replaced(engine: Engine, pg_url: str) -> None:
    with engine.connect() as connection:
        connection.begin()
        driver.rows(connection, _READ, {"name": "x"})
        connection.rollback()
        pid = connection.connection.dbapi_connection.pgconn.backend_pid
        killer = create_engine(pg_url)
        with killer.connect() as other:
            other.execute(text("SELECT pg_terminate_backend(:pid)"), {"pid": pid})
        killer.dispose()
        connection.begin()
        with pytest.raises(OperationalError) as raised:
            driver.rows(connection, _READ, {"name": "x"})
        assert raised.value.connection_invalidated
    with engine.connect() as connection:  # the pool opened a new one
        connection.begin()
        assert driver.rows(connection, _READ, {"name": "x"}) == []
        assert connection.connection.dbapi_connection.pgconn.backend_pid != pid
        connection.rollback()


def test_a_transaction_begins_with_the_connections_settings(engine: Engine) -> None:
    serial = engine.execution_options(isolation_level="SERIALIZABLE")
    with serial.connect() as connection:
        connection.begin()
        assert driver.rows(connection, _READ, {"name": "x"}) == []
        level = connection.exec_driver_sql("SHOW transaction_isolation").scalar()
        assert level == "serializable"
        connection.rollback()


def test_placeholders_other_than_named_ones_are_refused(engine: Engine) -> None:
    with engine.connect() as connection:
        connection.begin()
        assert driver.rows(connection, "SELECT '100%%' || %(x)s", {"x": "!"}) == [("100%!",)]
        with pytest.raises(ValueError, match="placeholders"):
            driver.rows(connection, "SELECT %s", {})
        connection.rollback()


def test_a_timestamp_crosses_both_paths_unchanged(engine: Engine) -> None:
    at = datetime(2026, 12, 7, 5, 0, 0, 123456)
    with engine.connect() as connection:
        for _ in range(2):  # the literal path (first in its transaction), then exec_prepared
            connection.begin()
            assert driver.rows(connection, "SELECT %(at)s::timestamp", {"at": at}) == [(at,)]
            later = at + timedelta(days=1)
            assert driver.rows(connection, "SELECT %(at)s::timestamp", {"at": later}) == [(later,)]
            connection.rollback()


@settings(max_examples=150, deadline=None, suppress_health_check=list(HealthCheck))
@given(
    value=st.none()
    | st.booleans()
    | st.integers(-(2**70), 2**70)
    | _TEXT
    | st.datetimes(min_value=datetime(1, 1, 1))
    | st.datetimes(timezones=st.just(UTC))
    | st.decimals(allow_nan=False, allow_infinity=False)
)
def test_a_literal_reads_back_as_psycopgs_own(engine: Engine, value: Any) -> None:
    with engine.connect() as connection:
        dbapi = connection.connection.dbapi_connection
        prepared = driver._Prepared(dbapi)
        ours = prepared.literal(value, dbapi.pgconn)
        theirs = bytes(prepared.dumper.as_literal(value))
        cursor = dbapi.cursor()
        read = [cursor.execute(b"SELECT " + literal).fetchone()[0] for literal in (ours, theirs)]
        connection.rollback()
    assert read[0] == read[1] and type(read[0]) is type(read[1])


def test_commit_ends_the_transaction_in_one_call_and_core_follows(engine: Engine) -> None:
    params = {"name": "kept", "at": None, "doc": "{}", "n": 1, "flag": None}
    with engine.connect() as connection:
        connection.begin()
        driver.rows(connection, _INSERT, params)
        driver.commit(connection)
        status = connection.connection.dbapi_connection.pgconn.transaction_status
        assert status == psycopg.pq.TransactionStatus.IDLE
        connection.commit()  # SQLAlchemy's bookkeeping; nothing left to send
        driver.commit(connection)  # no transaction: nothing to do
    with engine.connect() as connection:
        assert connection.execute(text("SELECT name FROM probe")).scalars().all() == ["kept"]


def test_a_deferred_violation_at_commit_is_sqlalchemys(engine: Engine) -> None:
    with engine.begin() as connection:
        connection.execute(
            text(
                "ALTER TABLE probe ADD CONSTRAINT probe_n_unique UNIQUE (n) "
                "DEFERRABLE INITIALLY DEFERRED"
            )
        )
    params = {"name": "one", "at": None, "doc": "{}", "n": 7, "flag": None}
    with engine.connect() as connection:
        connection.begin()
        driver.rows(connection, _INSERT, params)
        driver.rows(connection, _INSERT, {**params, "name": "two"})  # deferred: no error yet
        with pytest.raises(IntegrityError):
            driver.commit(connection)
        connection.rollback()
        assert connection.execute(text("SELECT count(*) FROM probe")).scalar() == 0
        connection.rollback()
