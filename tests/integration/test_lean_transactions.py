"""Lean transactions (workflow.platform.lean): on PostgreSQL a transaction that does not use
the ORM runs on a pool connection of its own (a Core connection around it when asked for),
the ORM joins it when used, and commit, rollback and close end it on that connection,
calling the session's listeners."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
from sqlalchemy import create_engine, event, select, text
from sqlalchemy.orm import Session, sessionmaker

from workflow.platform import driver
from workflow.platform.db import Base
from workflow.platform.lean import LeanSession, current_transaction
from workflow.records.models import User


@pytest.fixture
def factory(db_url: str) -> Iterator[sessionmaker[LeanSession]]:
    engine = create_engine(db_url, pool_size=2, max_overflow=0)
    Base.metadata.create_all(engine)
    yield sessionmaker(engine, class_=LeanSession, expire_on_commit=False)
    engine.dispose()


def _insert_user(session: Session, name: str) -> None:
    session.connection().execute(
        text(
            "INSERT INTO users (username, display_name, password_hash, roles, active, created_at) "
            "VALUES (:name, '', 'x', '[]', true, CURRENT_TIMESTAMP)"
        ),
        {"name": name},
    )


def _names(factory: sessionmaker[LeanSession]) -> list[str]:
    with factory() as s:
        return sorted(s.execute(select(User.username)).scalars())


def _checked_out(factory: sessionmaker[LeanSession]) -> int:
    bind = factory.kw["bind"]
    return int(bind.pool.checkedout())


def _listen(events: list[str]) -> list[tuple[str, object]]:
    listeners = [
        ("after_begin", lambda session, transaction, connection: events.append("begin")),
        ("after_commit", lambda session: events.append("commit")),
        ("after_rollback", lambda session: events.append("rollback")),
    ]
    for name, fn in listeners:
        event.listen(LeanSession, name, fn)
    return listeners


def _forget(listeners: list[tuple[str, object]]) -> None:
    for name, fn in listeners:
        event.remove(LeanSession, name, fn)


def test_a_transaction_without_the_orm_is_lean_on_postgresql_only(factory, db_url):
    events: list[str] = []
    listeners = _listen(events)
    try:
        with factory() as s:
            connection = s.connection()
            lean = db_url.startswith("postgresql")
            assert (s.lean_connection() is not None) is lean
            assert (s.get_transaction() is None) is lean  # no ORM transaction when lean
            assert s.connection() is connection
            assert current_transaction(s) is not None
            _insert_user(s, "ann")
            s.commit()
            assert s.lean_connection() is None
            assert _checked_out(factory) == 0  # returned to the pool at commit
            assert events == ["begin", "commit"]
    finally:
        _forget(listeners)
    assert _names(factory) == ["ann"]


def test_a_lean_transaction_rolled_back_or_closed_leaves_nothing(factory):
    events: list[str] = []
    listeners = _listen(events)
    try:
        with factory() as s:
            _insert_user(s, "bob")
            s.rollback()
            assert events[-1] == "rollback"
            _insert_user(s, "cid")
        # closed without commit: rolled back, the connection returned
        assert _checked_out(factory) == 0
    finally:
        _forget(listeners)
    assert _names(factory) == []


def test_the_orm_joins_the_lean_transaction(factory, db_url):
    with factory() as s:
        _insert_user(s, "dee")
        first = current_transaction(s)
        # The ORM, used now, sees the row written on the lean connection: one transaction.
        dee = s.execute(select(User).where(User.username == "dee")).scalar_one()
        assert current_transaction(s) is first
        dee.active = False
        s.rollback()  # both the lean write and the ORM's change are undone
        assert s.lean_connection() is None
        assert _checked_out(factory) == 0
    assert _names(factory) == []
    with factory() as s:
        _insert_user(s, "eve")
        eve = s.execute(select(User).where(User.username == "eve")).scalar_one()
        eve.active = False
        s.commit()  # the ORM flushes and commits the one transaction
        assert _checked_out(factory) == 0
    with factory() as s:
        assert s.execute(select(User.active).where(User.username == "eve")).scalar_one() is False
        if db_url.startswith("postgresql"):  # a session holding objects keeps the ORM's own
            s.connection()
            assert s.lean_connection() is None
            s.rollback()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_error_in_a_lean_transaction_is_rolled_back(factory):
    with factory() as s:
        _insert_user(s, "fay")
        with pytest.raises(Exception, match="duplicate key"):
            _insert_user(s, "fay")
        s.rollback()
        assert driver.rows(s.connection(), "SELECT count(*) FROM users", {}) == [(0,)]
        s.commit()
    assert _checked_out(factory) == 0


_INSERT_BY_DRIVER = (
    "INSERT INTO users (username, display_name, password_hash, roles, active, created_at) "
    "VALUES (%(name)s, '', 'x', '[]', true, CURRENT_TIMESTAMP) RETURNING id"
)


def _core_connections(factory: sessionmaker[LeanSession], events: list[str]) -> None:
    event.listen(factory.kw["bind"], "engine_connect", lambda _c: events.append("core"))


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_the_driver_alone_needs_no_core_connection(factory):
    made: list[str] = []
    _core_connections(factory, made)
    events: list[str] = []
    listeners = _listen(events)
    try:
        with factory() as s:
            lean = s.driver_connection()
            assert s.lean_connection() is lean is s.driver_connection()
            assert current_transaction(s) is lean
            driver.rows(lean, _INSERT_BY_DRIVER, {"name": "gus"})
            s.commit()
            assert s.lean_connection() is None
            assert _checked_out(factory) == 0
            lean = s.driver_connection()  # a new one
            driver.rows(lean, _INSERT_BY_DRIVER, {"name": "hal"})
            s.rollback()
            driver.rows(s.driver_connection(), _INSERT_BY_DRIVER, {"name": "ida"})
        # closed without commit: rolled back, the connection returned
        assert _checked_out(factory) == 0
        assert events == ["begin", "commit", "begin", "rollback", "begin"]
        assert made == []  # no Core connection on the way
    finally:
        _forget(listeners)
    assert _names(factory) == ["gus"]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_core_connection_asked_for_later_is_in_the_same_transaction(factory):
    with factory() as s:
        lean = s.driver_connection()
        driver.rows(lean, _INSERT_BY_DRIVER, {"name": "jo"})
        core = s.connection()  # made now, around the same pool connection
        assert core.connection is lean.connection
        assert current_transaction(s) is lean
        assert core.execute(text("SELECT count(*) FROM users")).scalar_one() == 1
        _insert_user(s, "kim")
        s.rollback()  # both writes undone
        assert _checked_out(factory) == 0
        driver.rows(s.driver_connection(), _INSERT_BY_DRIVER, {"name": "lu"})
        _insert_user(s, "max")
        s.commit()
    assert _checked_out(factory) == 0
    assert _names(factory) == ["lu", "max"]


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_driver_error_without_a_core_connection_is_raised_as_sqlalchemy_raises_it(factory):
    from sqlalchemy.exc import IntegrityError

    with factory() as s:
        driver.rows(s.driver_connection(), _INSERT_BY_DRIVER, {"name": "ned"})
        with pytest.raises(IntegrityError, match="duplicate key"):
            driver.rows(s.driver_connection(), _INSERT_BY_DRIVER, {"name": "ned"})
        s.rollback()
        assert driver.rows(s.driver_connection(), "SELECT count(*) FROM users", {}) == [(0,)]
        s.commit()
    assert _checked_out(factory) == 0


def test_a_lean_transaction_that_cannot_connect_raises_as_sqlalchemy_raises_it():
    from sqlalchemy.exc import OperationalError

    from tests.support.services import free_port

    engine = create_engine(
        f"postgresql+psycopg://postgres@127.0.0.1:{free_port()}/nothing",
        connect_args={"connect_timeout": 2},
    )
    try:
        with sessionmaker(engine, class_=LeanSession)() as s, pytest.raises(OperationalError):
            s.driver_connection()
    finally:
        engine.dispose()


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
@pytest.mark.parametrize("with_core", [False, True])
def test_an_invalidated_lean_transaction_gives_its_connection_up(factory, with_core):
    import warnings

    with factory() as s:
        driver.rows(s.driver_connection(), _INSERT_BY_DRIVER, {"name": "ola"})
        if with_core:
            s.connection()
        with warnings.catch_warnings():
            warnings.simplefilter("error")  # no "already closed" warning from the pool
            s.invalidate()
        assert s.lean_connection() is None
        assert _checked_out(factory) == 0
        driver.rows(s.driver_connection(), _INSERT_BY_DRIVER, {"name": "pia"})
        s.commit()
    assert _names(factory) == ["pia"]
