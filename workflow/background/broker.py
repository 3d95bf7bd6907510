"""The Dramatiq broker and the one actor that runs outbox messages.

The actor is declared against the broker built here (not at import time), so no
module can quietly bind to a default localhost broker. With ``REDIS_URL`` the
broker is Redis; without it, an in-process stub broker served by worker threads.
"""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.brokers.redis import RedisBroker
from dramatiq.brokers.stub import StubBroker
from dramatiq.middleware import Middleware

from workflow.background.runner import DEFAULT_MAX_ATTEMPTS, run_message
from workflow.background.sending import BatchSender
from workflow.engine.runtime import Runtime
from workflow.errors import TaskFailed

log = logging.getLogger(__name__)

QUEUE = "riskloop"
ACTOR_NAME = "riskloop.run_outbox_message"
BATCH_ACTOR_NAME = "riskloop.run_outbox_messages"


def build_broker(
    redis_url: str | None,
    *,
    middleware: list[Middleware] | None = None,
    heartbeat_timeout_ms: int = 15000,
    maintenance_chance: int = 5000,
) -> dramatiq.Broker:
    if redis_url:
        # A killed worker's in-flight messages come back only when its heartbeat is
        # older than heartbeat_timeout AND another worker runs maintenance; the
        # defaults (60 s, 0.1 %) left messages stranded for many minutes.
        broker: dramatiq.Broker = RedisBroker(
            url=redis_url,
            heartbeat_timeout=heartbeat_timeout_ms,
            maintenance_chance=maintenance_chance,
            dead_message_ttl=7 * 86400 * 1000,
        )
    else:
        broker = StubBroker()
        broker.emit_after("process_boot")
    for m in middleware or []:
        broker.add_middleware(m)
    dramatiq.set_broker(broker)
    return broker


def declare_actor(
    broker: dramatiq.Broker, runtime: Runtime, *, max_attempts: int = DEFAULT_MAX_ATTEMPTS
) -> Any:
    """Declare the outbox actor on ``broker``, running messages with ``runtime``'s sessions
    and registry, and make it ``runtime``'s outbox sender."""
    session_factory = runtime.session_factory
    if session_factory is None:
        raise RuntimeError("bind the runtime to a session factory before declaring its actor")
    registry = runtime.registry

    def run_outbox_message(outbox_id: int) -> None:
        # The outcome (done, skipped, failed) is recorded on the outbox row; returning it
        # would only make Dramatiq warn on every message that no result backend keeps it.
        outcome = run_message(session_factory, registry, outbox_id, max_attempts=max_attempts)
        log.debug("outbox message %s: %s", outbox_id, outcome)

    actor = dramatiq.actor(
        broker=broker,
        actor_name=ACTOR_NAME,
        queue_name=QUEUE,
        # Our own attempt counter (in the outbox row) decides when to give up and
        # open an incident; Dramatiq only needs to retry transient failures.
        max_retries=max_attempts,
        min_backoff=500,
        max_backoff=30000,
        retry_when=lambda retries, exc: isinstance(exc, TaskFailed) and retries < max_attempts,
        time_limit=300000,
    )(run_outbox_message)

    def run_outbox_messages(outbox_ids: list[int]) -> None:
        # A batch from a web process's BatchSender, run id by id. One that fails goes back
        # to the broker as a message of its own, with the single actor's retries.
        for outbox_id in outbox_ids:
            try:
                run_outbox_message(outbox_id)
            except Exception:
                actor.send_with_options(args=(outbox_id,), delay=500)

    batch_actor = dramatiq.actor(
        broker=broker,
        actor_name=BATCH_ACTOR_NAME,
        queue_name=QUEUE,
        max_retries=0,  # each failed id is re-sent alone, above
        time_limit=300000,
    )(run_outbox_messages)

    def send(ids: list[int]) -> None:
        for outbox_id in ids:
            actor.send(outbox_id)

    def send_batch(ids: list[int]) -> None:
        if len(ids) == 1:
            actor.send(ids[0])
        else:
            batch_actor.send(ids)

    if isinstance(broker, RedisBroker):
        # After commit, off the request's thread and several ids per message; the relay
        # (BatchSender.now) still sends one message per id, on its own thread.
        runtime.outbox_sender = BatchSender(send_batch, send)
    else:
        # The in-process stub broker (embedded mode, tests): at once, on the caller's thread.
        runtime.outbox_sender = send
    return actor
