"""Transactions that do not use the ORM, without the ORM session's bookkeeping (PostgreSQL).

The hot path (the bearer-token check, ``fire()``'s lock and writes) runs fixed SQL on
the driver (``workflow.platform.driver``) and commits: it never loads, adds or flushes
an object. For such a transaction the ORM session's machinery — its
``SessionTransaction``, the state checks around ``connection()``, ``commit()`` and
``close()`` — is about half of a transaction's bookkeeping (``bench.session_overhead``),
and a Core ``Connection`` around the pool's connection (its creation, the engine's
event dispatch joined to it, its ``begin``, ``commit`` and ``close``) is most of the rest.

:class:`LeanTransactions` is a ``Session`` mixin. On PostgreSQL, while the session has
no transaction and holds no objects, :func:`driver_connection` checks a connection out
of the pool and begins a *lean* transaction on it (the driver sends ``BEGIN`` with the
first statement), with neither the session's own transaction nor a Core
``Connection``; ``commit()`` sends ``COMMIT`` and returns the connection to the pool,
``rollback()`` and ``close()`` return it (the pool's reset rolls back), each calling
the session's ``after_begin``, ``after_commit`` and ``after_rollback`` listeners as the
ORM would (the outbox's post-commit hand-over, the catalog's refresh). A Core
``Connection`` is wrapped around the same pool connection, in the same database
transaction, as soon as anything asks for one: ``session.connection()``, a listener
(:func:`core_of`), the handling of a driver error. As soon as the ORM is used in the
same transaction (a query, ``add``, ``flush``, ``begin_nested``…), the session joins
that connection's transaction (``get_bind`` returns it; the session's
``join_transaction_mode`` is ``control_fully``): from then on the ORM commits, rolls
back and flushes as usual, in the same database transaction. SQLite, calls with bind
arguments or execution options, and sessions that hold objects keep the ORM's own
transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from workflow.platform import driver


class Lean:
    """A lean transaction: a connection checked out of the pool, and the Core
    ``Connection`` around it once one was asked for. What the driver runs statements on
    (``connection``: the pool's connection; ``dialect``; SQLAlchemy's handling of a
    driver error, which recognises a lost connection and invalidates the pool)."""

    __slots__ = ("_core", "connection", "dialect", "engine")

    def __init__(self, engine: Engine, connection: Any) -> None:
        self.engine = engine
        self.dialect = engine.dialect
        self.connection = connection
        self._core: Connection | None = None

    def core(self) -> Connection:
        """The Core ``Connection`` on this transaction's pool connection (made once)."""
        core = self._core
        if core is None:
            core = Connection(self.engine, connection=self.connection)
            # For psycopg Core's begin sends nothing: the transaction the driver began,
            # or psycopg's own BEGIN before Core's first statement, is the one.
            core.begin()
            self._core = core
        return core

    def _handle_dbapi_exception(self, *args: Any) -> Any:
        return self.core()._handle_dbapi_exception(*args)

    def commit(self) -> None:
        # COMMIT in one libpq call (nothing when no statement ran); Core's commit() then
        # only ends its own transaction. On failure the transaction stays, for rollback
        # or close.
        core = self._core
        driver.commit(self if core is None else core)
        if core is not None:
            core.commit()

    def rollback(self) -> None:
        if self._core is not None:
            self._core.rollback()
        else:  # the pool's reset at close sends ROLLBACK (and replaces a broken connection)
            self.close()

    def invalidate(self) -> None:
        if self._core is not None:
            self._core.invalidate()
        elif self.connection is not None:
            self.connection.invalidate()  # returned to the pool, replaced there
            self.connection = None

    def close(self) -> None:
        core, connection = self._core, self.connection
        if core is not None:
            core.close()
        elif connection is not None:
            connection.close()
        self.connection = None


def _begin(engine: Engine) -> Lean:
    try:
        connection = engine.raw_connection()
    except engine.dialect.loaded_dbapi.Error as err:
        # raised as Engine.connect() raises it (a lost database recognised, the pool reset)
        Connection._handle_dbapi_exception_noconnection(err, engine.dialect, engine)
        raise
    lean = Lean(engine, connection)
    if not driver.drives(connection.dbapi_connection):
        lean.core()  # a driver other than psycopg's: Core runs it all
    return lean


class LeanTransactions(Session):
    """Mix into a ``Session`` class (before it in the bases) for lean transactions."""

    _lean: Lean | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # When the ORM joins a lean transaction it owns it: commit and rollback included.
        self.join_transaction_mode = "control_fully"

    def lean_connection(self) -> Lean | None:
        """The lean transaction in progress (None: there is none)."""
        return self._lean

    def driver_connection(self) -> Any:
        """What the driver runs a statement on: the lean transaction in progress (begun
        now when the session may have one), else the session's Core connection."""
        lean = self._lean_transaction()
        return lean if lean is not None else self.connection()

    def connection(self, bind_arguments: Any = None, execution_options: Any = None) -> Connection:
        if bind_arguments is None and execution_options is None:
            lean = self._lean_transaction()
            if lean is not None:
                return lean.core()
        return super().connection(bind_arguments, execution_options)

    def _lean_transaction(self) -> Lean | None:
        """The lean transaction in progress, or one begun now when the session may have
        one (no ORM transaction, no objects, PostgreSQL); None otherwise."""
        if self._transaction is not None:
            return None
        if self._lean is not None:
            return self._lean
        if self._new or self._deleted or self.identity_map:
            return None
        engine = super().get_bind()
        if isinstance(engine, Engine) and engine.dialect.name == "postgresql":
            return self._begin_lean(engine)
        return None

    def _begin_lean(self, engine: Engine) -> Lean:
        lean = self._lean = _begin(engine)
        try:
            self.dispatch.after_begin(self, None, lean)  # type: ignore[arg-type]
        except BaseException:
            self._lean = None
            lean.close()
            raise
        return lean

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        # The ORM, used during a lean transaction, joins its connection.
        if self._lean is not None:
            return self._lean.core()
        return super().get_bind(*args, **kwargs)

    def commit(self) -> None:
        lean = self._lean
        if lean is None:
            super().commit()
            return
        if self._transaction is not None or self._new or self._deleted or self.identity_map:
            super().commit()  # the ORM joined (or joins now to flush): it commits the connection
            self._end_lean()
            return
        lean.commit()
        self._end_lean()
        self.dispatch.after_commit(self)

    def rollback(self) -> None:
        lean = self._lean
        if lean is None:
            super().rollback()
            return
        joined = self._transaction is not None
        try:
            if joined:
                super().rollback()
            else:
                lean.rollback()
        finally:
            self._end_lean()
        if not joined:
            self.dispatch.after_rollback(self)

    def _close_impl(self, invalidate: bool, is_reset: bool = False) -> None:
        lean, self._lean = self._lean, None
        try:
            super()._close_impl(invalidate, is_reset)
        finally:
            if lean is not None:
                if invalidate:
                    lean.invalidate()
                lean.close()

    def _end_lean(self) -> None:
        lean, self._lean = self._lean, None
        if lean is not None:
            lean.close()


class LeanSession(LeanTransactions, Session):
    """A plain ``Session`` with lean transactions (the engine object's session factories)."""


def driver_connection(session: Session) -> Any:
    """What the driver runs ``session``'s next statement on: its lean transaction (begun
    when it may have one) or its Core connection."""
    if isinstance(session, LeanTransactions):
        return session.driver_connection()
    return session.connection()


def core_of(connection: Any) -> Connection:
    """The Core ``Connection`` of what a session's ``after_begin`` listeners are given:
    a Core connection, or a lean transaction (whose Core connection is made now)."""
    return connection.core() if isinstance(connection, Lean) else connection


def current_transaction(session: Session) -> Any:
    """What identifies ``session``'s database transaction in progress: the lean
    transaction (the ORM, joining it, shares it), else the session's own transaction
    (None: none in progress). A scoped session is called to reach the real one."""
    real = session() if callable(session) else session
    lean = real.lean_connection() if isinstance(real, LeanTransactions) else None
    if lean is not None:
        return lean
    return real.get_transaction()
