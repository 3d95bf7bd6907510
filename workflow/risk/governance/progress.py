"""The progress of a running backtest, readable while it runs (PostgreSQL and SQLite).

While the backtest (``config_backtest``) runs, a separate short transaction on its own
connection writes each chunk's ``done``/``total`` to the change's
``data.backtest.progress`` (with ``running: true``), at most every :data:`WRITE_SECONDS`;
``GET /api/v1/config/changes/{id}/progress`` reads it from any process.

On PostgreSQL the task's transaction stays open while the backtest runs in it, holding
no lock on the instance row (only the final transition locks it), so the write does not
wait on it. On SQLite every transaction begins ``IMMEDIATE``, so the task does not keep
its transaction open: the backtest reads a snapshot on a connection of its own that
takes no write lock (``platform.db.read_only_session``), and each progress write is a
short write transaction of its own. That write also moves the task's outbox message's
``sent_at`` (``heartbeat``): the message is no longer locked by the running task, and
the relay would otherwise hand a long backtest to a second worker every 30 s; when the
backtest dies, the heartbeat stops and the relay redelivers it.

The final transition replaces ``data.backtest`` with the report (or the failure) and the
last progress. :func:`listen` registers a callback told of every chunk after its write
(the tests pause a backtest there, mid-run).
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from workflow.errors import NotFound
from workflow.platform import clock
from workflow.records.models import OutboxMessage, WorkflowInstance

log = logging.getLogger(__name__)

WRITE_SECONDS = 1.0
DEFINITION = "config_change"
BACKTESTING = "backtesting"

Listener = Callable[[int, int, int], None]
_listeners: list[Listener] = []


def listen(listener: Listener) -> Callable[[], None]:
    """Call ``listener(change_id, done, total)`` after every chunk of every backtest of this
    process, once its progress is written (or skipped); returns the function that stops it."""
    _listeners.append(listener)
    return lambda: _listeners.remove(listener)


class Reporter:
    """``reporter(done, total)`` after every chunk of one change's backtest; ``last`` is
    what it heard last.

    ``live``: write the progress at once in a transaction of its own (default: on
    PostgreSQL; on SQLite only when the caller holds no transaction open, see the module
    docstring). ``heartbeat``: the outbox message whose ``sent_at`` each write moves.
    """

    def __init__(
        self,
        session: Session,
        change_id: int,
        *,
        live: bool | None = None,
        heartbeat: int | None = None,
    ) -> None:
        self.change_id = change_id
        self.last = {"done": 0, "total": 0}
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        if live is None:
            live = engine.dialect.name == "postgresql"
        self.engine: Engine | None = engine if live else None
        self.heartbeat = heartbeat
        self.written_at: float | None = None

    def __call__(self, done: int, total: int) -> None:
        self.last = {"done": done, "total": total}
        now = time.monotonic()
        if self.engine is not None and (
            self.written_at is None or now - self.written_at >= WRITE_SECONDS
        ):
            self.written_at = now
            try:
                self._write(self.engine, clock.now())
            except Exception:  # progress is a courtesy: the backtest goes on without it
                log.warning("backtest progress of change %s not written", self.change_id)
        for listener in list(_listeners):
            listener(self.change_id, done, total)

    def beat(self, session: Session) -> None:
        """Move the ``heartbeat`` message's ``sent_at`` in ``session``'s transaction (as the
        backtest starts, before its first chunk is written)."""
        if self.heartbeat is not None:
            session.execute(self._beat(clock.now()))

    def _beat(self, at: Any) -> Any:
        return (
            update(OutboxMessage)
            .where(OutboxMessage.id == self.heartbeat, OutboxMessage.status == "pending")
            .values(sent_at=at)
        )

    def _write(self, engine: Engine, at: Any) -> None:
        row = WorkflowInstance
        mine = (row.id == self.change_id, row.state == BACKTESTING)
        with engine.begin() as connection:
            data = connection.execute(
                select(row.data).where(*mine).with_for_update()
            ).scalar_one_or_none()
            if data is None:  # withdrawn meanwhile, or already moved on
                return
            stamp = clock.isoformat(at)
            backtest = {"progress": {**self.last, "running": True, "updated_at": stamp}}
            connection.execute(update(row).where(*mine).values(data={**data, "backtest": backtest}))
            if self.heartbeat is not None:
                connection.execute(self._beat(at))


def of_change(session: Session, change_id: int) -> dict[str, Any]:
    """A change's backtest progress: ``done``, ``total``, ``running``, ``updated_at``, the
    case's ``state``, and the backtest's ``outcome``: ``waiting`` (no chunk reported yet),
    ``running``, ``failed`` (with its ``reason``; the case stays ``backtesting``, the
    draft cannot be published), ``done`` (a report) or ``stopped`` (withdrawn before it
    finished). ``finished`` says whether it ran to an end (failed or done); a finished
    backtest keeps the last ``done``/``total`` it reported.

    Raises:
        NotFound: no ``config_change`` case ``change_id``.
    """
    instance = session.get(WorkflowInstance, change_id)
    if instance is None or instance.definition != DEFINITION:
        raise NotFound(
            f"no configuration change {change_id}",
            code="config.unknown_change",
            params={"change_id": change_id},
        )
    session.refresh(instance)  # another transaction may have written the progress
    backtest = (instance.data or {}).get("backtest") or {}
    found = dict(backtest.get("progress") or {})
    running = bool(found.get("running")) and instance.state == BACKTESTING
    reason = backtest.get("failed")
    if reason:
        outcome = "failed"
    elif backtest.get("report") is not None:
        outcome = "done"
    elif instance.state != BACKTESTING:
        outcome = "stopped"
    else:
        outcome = "running" if running or found.get("total") else "waiting"
    return {
        "change_id": change_id,
        "state": instance.state,
        "done": int(found.get("done", 0)),
        "total": int(found.get("total", 0)),
        "running": running and not reason,
        "updated_at": found.get("updated_at"),
        "outcome": outcome,
        "finished": outcome in ("failed", "done"),
        "reason": str(reason) if reason else None,
    }
