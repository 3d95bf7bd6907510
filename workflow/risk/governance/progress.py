"""The progress of a running backtest, readable while it runs (on PostgreSQL).

The backtest task (``config_backtest``) runs in one transaction that it commits with the
outcome, so the progress it stores with the outcome is only the last word. While it runs,
on PostgreSQL, a separate short transaction on its own connection writes each chunk's
``done``/``total`` to the change's ``data.backtest.progress`` (with ``running: true``), at
most every :data:`WRITE_SECONDS`; ``GET /api/v1/config/changes/{id}/progress`` reads it
from any process. The task's transaction holds no lock on the instance row while the
backtest runs (only the final transition locks it), so the write does not wait on it.

On SQLite no second write is tried: every transaction begins ``IMMEDIATE``, so the
task's transaction holds the database's write lock until the outcome, and every other
request (the progress read among them) waits for it; the progress is then stored with
the outcome. An in-process registry would not help: the request reading it waits for the
same lock before it gets that far (authentication reads the database).

The final transition replaces ``data.backtest`` with the report (or the failure) and the
last progress.
"""

from __future__ import annotations

import logging
import time
from typing import Any

from sqlalchemy import select, update
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Session

from workflow.errors import NotFound
from workflow.platform import clock
from workflow.records.models import WorkflowInstance

log = logging.getLogger(__name__)

WRITE_SECONDS = 1.0
DEFINITION = "config_change"
BACKTESTING = "backtesting"


class Reporter:
    """``reporter(done, total)`` after every chunk of one change's backtest; ``last`` is
    what it heard last."""

    def __init__(self, session: Session, change_id: int) -> None:
        self.change_id = change_id
        self.last = {"done": 0, "total": 0}
        bind = session.get_bind()
        engine = bind if isinstance(bind, Engine) else bind.engine
        self.engine: Engine | None = engine if engine.dialect.name == "postgresql" else None
        self.written_at: float | None = None

    def __call__(self, done: int, total: int) -> None:
        self.last = {"done": done, "total": total}
        now = time.monotonic()
        if self.engine is None or (
            self.written_at is not None and now - self.written_at < WRITE_SECONDS
        ):
            return
        self.written_at = now
        try:
            self._write(self.engine, clock.isoformat(clock.now()))
        except Exception:  # progress is a courtesy: the backtest goes on without it
            log.warning("backtest progress of change %s not written", self.change_id)

    def _write(self, engine: Engine, at: str | None) -> None:
        row = WorkflowInstance
        mine = (row.id == self.change_id, row.state == BACKTESTING)
        with engine.begin() as connection:
            data = connection.execute(
                select(row.data).where(*mine).with_for_update()
            ).scalar_one_or_none()
            if data is None:  # withdrawn meanwhile, or already moved on
                return
            backtest = {"progress": {**self.last, "running": True, "updated_at": at}}
            connection.execute(update(row).where(*mine).values(data={**data, "backtest": backtest}))


def of_change(session: Session, change_id: int) -> dict[str, Any]:
    """A change's backtest progress: ``done``, ``total``, ``running``, ``updated_at`` and
    the case's ``state``.

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
    found = dict((instance.data.get("backtest") or {}).get("progress") or {})
    return {
        "change_id": change_id,
        "state": instance.state,
        "done": int(found.get("done", 0)),
        "total": int(found.get("total", 0)),
        "running": bool(found.get("running")) and instance.state == BACKTESTING,
        "updated_at": found.get("updated_at"),
    }
