"""Running what a broker holds with a real Dramatiq worker, in the test's process."""

from __future__ import annotations

import dramatiq

from workflow.background.broker import QUEUE


def run_queue(broker: dramatiq.Broker, timeout_ms: int = 20000) -> None:
    """Start a worker, wait until riskloop's queue is empty and every message is done,
    then stop it (a message's exception is re-raised by the join)."""
    worker = dramatiq.Worker(broker, worker_timeout=50)
    worker.start()
    try:
        broker.join(QUEUE, timeout=timeout_ms)
    finally:
        worker.stop()
