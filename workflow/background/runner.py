"""Running one outbox message: the single door through which all background work passes.

The message's effects and its ``done`` mark commit together, so redelivery (at
least once, by Dramatiq or the relay) never has a second effect. A task that
keeps failing becomes an incident on its case — never a silent skip.
"""

from __future__ import annotations

import contextlib
import logging
import traceback
from collections.abc import Callable

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine.context import TaskContext
from workflow.engine.registry import Registry
from workflow.errors import RiskloopError, ServiceUnavailable, TaskFailed
from workflow.platform import clock
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import Incident, OutboxMessage, WorkflowInstance

log = logging.getLogger(__name__)

DEFAULT_MAX_ATTEMPTS = 5
TRANSIENT = (TaskFailed, ServiceUnavailable, OSError, TimeoutError)


def run_message(
    session_factory: Callable[[], Session],
    registry: Registry,
    outbox_id: int,
    *,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> str:
    """Run outbox message ``outbox_id`` once; returns ``done``, ``skipped`` or ``failed``.

    Raises:
        TaskFailed: a transient failure; the broker should retry with backoff.
    """
    session = session_factory()
    try:
        message = session.execute(
            select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update()
        ).scalar_one_or_none()
        if message is None or message.status != "pending":
            session.rollback()
            return "skipped"
        handler = registry.tasks.get(message.task)
        if handler is None:
            raise RiskloopError(f"no task named {message.task!r} is registered")
        instance = (
            session.get(WorkflowInstance, message.instance_id) if message.instance_id else None
        )
        ctx = TaskContext(
            session=session,
            task=message.task,
            args=dict(message.args or {}),
            instance=instance,
            outbox_id=message.id,
            attempt=message.attempts + 1,
            now=clock.now(),
        )
        handler(ctx)
        message.status = "done"
        message.done_at = clock.now()
        message.attempts += 1
        session.commit()
        return "done"
    except Exception as exc:
        session.rollback()
        transient = isinstance(exc, TRANSIENT) or not isinstance(exc, RiskloopError)
        return _record_failure(session, registry, outbox_id, exc, transient, max_attempts)
    finally:
        session.close()


def _record_failure(
    session: Session,
    registry: Registry,
    outbox_id: int,
    exc: Exception,
    transient: bool,
    max_attempts: int,
) -> str:
    message = session.execute(
        select(OutboxMessage).where(OutboxMessage.id == outbox_id).with_for_update()
    ).scalar_one_or_none()
    if message is None or message.status != "pending":
        session.rollback()
        return "skipped"
    message.attempts += 1
    message.last_error = f"{type(exc).__name__}: {exc}"[:2000]
    if transient and message.attempts < max_attempts:
        session.commit()
        log.warning(
            "task %s (outbox %s) failed, attempt %d of %d: %s",
            message.task,
            outbox_id,
            message.attempts,
            max_attempts,
            type(exc).__name__,
        )
        raise TaskFailed(f"task {message.task} failed: {exc}") from exc
    message.status = "failed"
    open_incident(session, message, "".join(traceback.format_exception_only(exc)).strip())
    session.commit()
    log.error(
        "task %s (outbox %s) failed for good after %d attempt(s); incident opened",
        message.task,
        outbox_id,
        message.attempts,
    )
    return "failed"


def open_incident(session: Session, message: OutboxMessage, error: str) -> Incident:
    """Make a failed task visible on its case (incident row and an audit record)."""
    incident = Incident(
        instance_id=message.instance_id,
        outbox_id=message.id,
        task=message.task,
        error=error[:4000],
        attempts=message.attempts,
        created_at=clock.now(),
    )
    session.add(incident)
    if message.instance_id is not None:
        instance = session.execute(
            select(WorkflowInstance)
            .where(WorkflowInstance.id == message.instance_id)
            .with_for_update()
        ).scalar_one_or_none()
        if instance is not None:
            instance.data = {
                **instance.data,
                "incidents": int(instance.data.get("incidents", 0)) + 1,
            }
            audit.append(
                session,
                instance,
                audit.instance_stream(instance.id),
                "incident",
                Actor.system(message.task),
                instance_id=instance.id,
                definition=instance.definition,
                definition_version=instance.definition_version,
                payload={"task": message.task, "attempts": message.attempts, "error": error[:500]},
            )
    return incident


def drain(
    session_factory: Callable[[], Session],
    registry: Registry,
    *,
    rounds: int = 50,
    max_attempts: int = DEFAULT_MAX_ATTEMPTS,
) -> int:
    """Run every pending message in this thread until none is left (tests, CLI one-shot).

    Transient failures are retried in the next round, up to ``max_attempts``.
    """
    ran = 0
    for _ in range(rounds):
        session = session_factory()
        ids = list(
            session.execute(
                select(OutboxMessage.id)
                .where(OutboxMessage.status == "pending")
                .order_by(OutboxMessage.id)
            ).scalars()
        )
        session.close()
        if not ids:
            break
        for outbox_id in ids:
            with contextlib.suppress(TaskFailed):
                run_message(session_factory, registry, outbox_id, max_attempts=max_attempts)
            ran += 1
    return ran
