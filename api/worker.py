"""Running Dramatiq workers and the scheduler: in-process (embedded) or as processes."""

from __future__ import annotations

import logging
from typing import Any

import dramatiq
from dramatiq.middleware import Middleware
from flask import Flask

log = logging.getLogger(__name__)


class AppContextMiddleware(Middleware):
    """Each message runs inside an app context, like a request does."""

    def __init__(self, app: Flask) -> None:
        self.app = app
        self._contexts: dict[int, Any] = {}

    def before_process_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        ctx = self.app.app_context()
        ctx.push()
        self._contexts[id(message)] = ctx

    def _pop(self, message: dramatiq.Message) -> None:
        ctx = self._contexts.pop(id(message), None)
        if ctx is not None:
            ctx.pop()

    def after_process_message(
        self,
        broker: dramatiq.Broker,
        message: dramatiq.Message,
        *,
        result: Any = None,
        exception: BaseException | None = None,
    ) -> None:
        self._pop(message)

    def after_skip_message(self, broker: dramatiq.Broker, message: dramatiq.Message) -> None:
        self._pop(message)


class EmbeddedServices:
    """The in-process worker threads and scheduler of ``riskloop run``."""

    def __init__(self, app: Flask, *, threads: int = 4, interval: float = 1.0) -> None:
        from workflow.background.scheduler import Scheduler

        rt = app.extensions["riskloop"]["runtime"]
        self.broker = app.extensions["riskloop"]["broker"]
        self.worker = dramatiq.Worker(self.broker, worker_threads=threads, worker_timeout=200)
        self.scheduler = Scheduler(
            rt.session_factory, rt.catalog.registry, rt.settings, interval=interval
        )

    def start(self) -> None:
        self.worker.start()
        self.scheduler.start()
        log.info("embedded worker and scheduler started")

    def stop(self) -> None:
        self.scheduler.stop()
        self.worker.stop(timeout=10000)
        log.info("embedded worker and scheduler stopped")
