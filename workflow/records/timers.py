"""Durable timers: rows claimed by schedulers, never in-process ``threading.Timer``s.

A scheduler claims due rows (``FOR UPDATE SKIP LOCKED`` on PostgreSQL, so several
schedulers share the work; a conditional UPDATE elsewhere) and turns each into an
outbox message in the same transaction, so a timer fires exactly once even across
restarts. A timer whose instance has left its state is a no-op when it runs.
"""

from __future__ import annotations

import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import bindparam, insert, select, update
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.platform import clock
from workflow.records.models import Timer, WorkflowInstance
from workflow.records.outbox import enqueue

log = logging.getLogger(__name__)


_SCHEDULE = insert(Timer)


def schedule(
    session: Session, instance: WorkflowInstance, state: str, trigger: str, due_at: datetime
) -> None:
    """Arm a timer for ``instance`` in ``state`` (a Core insert: hot path, never read back)."""
    arm(session, instance.id, state, trigger, due_at)


def arm(session: Session, instance_id: int, state: str, trigger: str, due_at: datetime) -> None:
    """Arm a timer for the instance ``instance_id`` in ``state``."""
    session.connection().execute(_SCHEDULE, row(instance_id, state, trigger, due_at))


def row(instance_id: int, state: str, trigger: str, due_at: datetime) -> dict[str, Any]:
    """Every column of a pending timer of the instance in ``state`` (for one insert of many)."""
    return {
        "kind": "transition",
        "instance_id": instance_id,
        "state": state,
        "trigger": trigger,
        "job": None,
        "args": {},
        "key": None,
        "due_at": due_at,
        "status": "pending",
        "created_at": clock.now(),
        "fired_at": None,
    }


_CANCEL = (
    update(Timer)
    .where(
        Timer.instance_id == bindparam("iid"),
        Timer.state == bindparam("st"),
        Timer.status == "pending",
    )
    .values(status="cancelled")
)


def cancel_for_state(session: Session, instance_id: int, state: str) -> None:
    # A Core statement on the session's connection: on the hot path of every firing,
    # it skips the ORM's autoflush and identity-map bookkeeping (timer rows are not
    # read back in this transaction).
    session.connection().execute(_CANCEL, {"iid": instance_id, "st": state})


def schedule_job(
    session: Session, job: str, due_at: datetime, *, key: str, args: dict[str, Any] | None = None
) -> bool:
    """Arm a job timer once per ``key`` (e.g. ``digest:2026-11-23``); False if it exists."""
    if session.execute(select(Timer.id).where(Timer.key == key)).first():
        return False
    try:
        with session.begin_nested():
            session.add(
                Timer(
                    kind="job",
                    job=job,
                    key=key,
                    args=args or {},
                    due_at=due_at,
                    status="pending",
                    created_at=clock.now(),
                )
            )
    except IntegrityError:  # another scheduler armed it first
        return False
    return True


def claim_due(session: Session, *, now: datetime | None = None, limit: int = 200) -> list[Timer]:
    """Claim due timers in the caller's transaction and queue their work.

    Each claimed timer becomes an outbox message (``fire_timer`` or ``run_job``)
    written in the same transaction as its status change.
    """
    now = now or clock.now()
    query = (
        select(Timer)
        .where(Timer.status == "pending", Timer.due_at <= now)
        .order_by(Timer.due_at, Timer.id)
        .limit(limit)
    )
    dialect = session.get_bind().dialect.name
    if dialect == "postgresql":
        timers = list(session.execute(query.with_for_update(skip_locked=True)).scalars())
    else:
        candidates = list(session.execute(query).scalars())
        timers = []
        for timer in candidates:
            # SQLite has no SKIP LOCKED: claim with a conditional update instead.
            result = session.execute(
                update(Timer)
                .where(Timer.id == timer.id, Timer.status == "pending")
                .values(status="claimed")
            )
            claimed = getattr(result, "rowcount", 0)
            if claimed:
                timers.append(timer)
    for timer in timers:
        timer.status = "fired"
        timer.fired_at = now
        if timer.kind == "job":
            enqueue(
                session, "run_job", {"timer_id": timer.id, "job": timer.job, **(timer.args or {})}
            )
        else:
            enqueue(session, "fire_timer", {"timer_id": timer.id}, instance_id=timer.instance_id)
    return timers


def next_due(session: Session) -> datetime | None:
    return session.execute(
        select(Timer.due_at).where(Timer.status == "pending").order_by(Timer.due_at).limit(1)
    ).scalar_one_or_none()


def in_future(delta: timedelta) -> datetime:
    return clock.now() + delta
