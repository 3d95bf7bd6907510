"""Transactions that do not use the ORM, without the ORM session's bookkeeping (PostgreSQL).

The hot path (the bearer-token check, ``fire()``'s lock and writes) runs fixed SQL on
the driver's cursor of ``session.connection()`` and commits: it never loads, adds or
flushes an object. For such a transaction the ORM session's machinery — its
``SessionTransaction``, the state checks around ``connection()``, ``commit()`` and
``close()`` — is about half of a transaction's bookkeeping (``bench.session_overhead``).

:class:`LeanTransactions` is a ``Session`` mixin. On PostgreSQL, ``connection()``
called while the session has no transaction and holds no objects checks a Core
connection out of the pool and begins on it (a *lean* transaction) without creating
the session's own transaction; ``commit()``, ``rollback()`` and ``close()`` end it on
that connection and return it to the pool, calling the session's ``after_begin``,
``after_commit`` and ``after_rollback`` listeners as the ORM would (the outbox's
post-commit hand-over, the catalog's refresh). As soon as the ORM is used in the same
transaction (a query, ``add``, ``flush``, ``begin_nested``…), the session joins the
lean connection's transaction (``get_bind`` returns the connection; the session's
``join_transaction_mode`` is ``control_fully``): from then on the ORM commits, rolls
back and flushes as usual, in the same database transaction. SQLite, calls with
bind arguments or execution options, and sessions that hold objects keep the ORM's
own transaction.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy import Connection, Engine
from sqlalchemy.orm import Session

from workflow.platform import driver


class LeanTransactions(Session):
    """Mix into a ``Session`` class (before it in the bases) for lean transactions."""

    _lean: Connection | None = None

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # When the ORM joins a lean transaction it owns it: commit and rollback included.
        self.join_transaction_mode = "control_fully"

    def lean_connection(self) -> Connection | None:
        """The connection of the lean transaction in progress (None: there is none)."""
        return self._lean

    def connection(self, bind_arguments: Any = None, execution_options: Any = None) -> Connection:
        if self._transaction is None and bind_arguments is None and execution_options is None:
            lean = self._lean
            if lean is not None:
                return lean
            if not (self._new or self._deleted or self.identity_map):
                engine = super().get_bind()
                if isinstance(engine, Engine) and engine.dialect.name == "postgresql":
                    return self._begin_lean(engine)
        return super().connection(bind_arguments, execution_options)

    def _begin_lean(self, engine: Engine) -> Connection:
        connection = engine.connect()
        try:
            connection.begin()
            self._lean = connection
            self.dispatch.after_begin(self, None, connection)  # type: ignore[arg-type]
        except BaseException:
            self._lean = None
            connection.close()
            raise
        return connection

    def get_bind(self, *args: Any, **kwargs: Any) -> Any:
        # The ORM, used during a lean transaction, joins its connection.
        if self._lean is not None:
            return self._lean
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
        # COMMIT in one libpq call; Core's commit() then only ends its own transaction.
        # On failure the lean transaction stays, for rollback() or close().
        driver.commit(lean)
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


def current_transaction(session: Session) -> Any:
    """What identifies ``session``'s database transaction in progress: the lean
    transaction's Core transaction (the ORM, joining it, shares it), else the session's
    own transaction (None: none in progress). A scoped session is called to reach the
    real one."""
    real = session() if callable(session) else session
    lean = real.lean_connection() if isinstance(real, LeanTransactions) else None
    if lean is not None:
        return lean.get_transaction()
    return real.get_transaction()
