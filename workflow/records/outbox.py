"""The transactional outbox: background work written with the change that asks for it.

Rows are written inside the firing transaction; after commit they are handed to
the broker at once, and a relay loop re-sends anything still pending (a broker
that was down) or sent long ago and never finished (a lost message). Workers mark
a row done in the same transaction as the task's own effects, so a redelivered
message has no second effect.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import event, insert, or_, select, update
from sqlalchemy.orm import Session

from workflow.platform import clock
from workflow.platform.db import RUNTIME_KEY
from workflow.records.models import OutboxMessage

log = logging.getLogger(__name__)

_PENDING_KEY = "riskloop_outbox_new"

# Hands a list of outbox ids to the broker; raises if it cannot. Each engine object
# (workflow.engine.runtime) holds its own, found through the session's info.
Sender = Callable[[list[int]], None]


def sender_of(session: Session) -> Sender | None:
    """The outbox sender of the engine object ``session`` carries (None: nothing is sent
    after commit; a worker or a test drains the outbox instead)."""
    return getattr(session.info.get(RUNTIME_KEY), "outbox_sender", None)


_INSERT = insert(OutboxMessage).returning(OutboxMessage.id)


def enqueue(
    session: Session,
    task: str,
    args: dict[str, Any] | None = None,
    *,
    instance_id: int | None = None,
) -> int:
    """Write a task for a worker; it leaves only if the surrounding transaction commits.

    Returns the outbox id. A Core insert: every firing writes one, and the row is
    not read back in the transaction.
    """
    outbox_id = write(session, task, args, instance_id=instance_id)
    after_commit(session, [outbox_id])
    return outbox_id


def write(
    session: Session,
    task: str,
    args: dict[str, Any] | None = None,
    *,
    instance_id: int | None = None,
    at: datetime | None = None,
) -> int:
    """Insert the outbox row only (``after_commit`` hands it to the broker)."""
    return int(
        session.connection()
        .execute(
            _INSERT,
            {
                "task": task,
                "args": args or {},
                "instance_id": instance_id,
                "status": "pending",
                "attempts": 0,
                "created_at": at or clock.now(),
                "sent_at": None,
                "done_at": None,
                "last_error": None,
            },
        )
        .scalar_one()
    )


def after_commit(session: Session, ids: list[int]) -> None:
    """Hand outbox rows ``ids``, written in the session's transaction, to the broker once
    it commits (dropped if it rolls back; the relay delivers what the broker missed)."""
    if ids:
        session.info.setdefault(_PENDING_KEY, []).extend(ids)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    ids = session.info.pop(_PENDING_KEY, None)
    sender = sender_of(session)
    if not ids or sender is None:
        return
    try:
        sender(ids)
    except Exception:  # the broker is down: the relay loop delivers later
        log.warning("broker unavailable; %d outbox message(s) left for the relay", len(ids))


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def relay_once(
    session_factory: Callable[[], Session], *, redeliver_after: timedelta, limit: int = 500
) -> int:
    """Hand the broker every message still pending ``redeliver_after`` since it was last
    sent (or written): the broker was down, or the message was lost with a worker.
    Returns how many were handed over."""
    session = session_factory()
    sender = sender_of(session)
    if sender is None:
        session.close()
        return 0
    try:
        cutoff = clock.now() - redeliver_after
        ids = list(
            session.execute(
                select(OutboxMessage.id)
                .where(
                    OutboxMessage.status == "pending",
                    or_(
                        OutboxMessage.sent_at <= cutoff,
                        OutboxMessage.sent_at.is_(None) & (OutboxMessage.created_at <= cutoff),
                    ),
                )
                .order_by(OutboxMessage.id)
                .limit(limit)
            ).scalars()
        )
        if not ids:
            session.rollback()
            return 0
        # At once on this thread (a batching sender's ``now``): sent_at records a sending done.
        getattr(sender, "now", sender)(ids)
        session.execute(
            update(OutboxMessage).where(OutboxMessage.id.in_(ids)).values(sent_at=clock.now())
        )
        session.commit()
        return len(ids)
    finally:
        session.close()
