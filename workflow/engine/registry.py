"""Named guards, effects, background tasks and scheduled jobs that definitions refer to.

Definitions (YAML) name these callables; the loader refuses a name that is not
registered here. Domain modules in ``workflow.domain`` register theirs on import,
so adding a workflow means a YAML file and, at most, a named guard or effect.
"""

from __future__ import annotations

import importlib
import pkgutil
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GuardFn = Callable[..., "str | None"]
EffectFn = Callable[..., None]
TaskFn = Callable[..., None]
JobFn = Callable[..., None]


@dataclass
class Registry:
    guards: dict[str, GuardFn] = field(default_factory=dict)
    effects: dict[str, EffectFn] = field(default_factory=dict)
    tasks: dict[str, TaskFn] = field(default_factory=dict)
    jobs: dict[str, tuple[JobFn, str]] = field(default_factory=dict)
    # subject type -> fn(session, subject_id) -> owner username (for sales visibility)
    subject_owners: dict[str, Callable[..., str | None]] = field(default_factory=dict)
    # subject type -> fn(session, subject_ids) -> {subject_id: owner} (a page of cases at once)
    subject_owner_batches: dict[str, Callable[..., dict[int, str | None]]] = field(default_factory=dict)
    # definition name -> fn(session, instance, actor) -> the case data this actor may see
    data_views: dict[str, Callable[..., dict[str, Any]]] = field(default_factory=dict)

    def subject_owner(self, subject_type: str) -> Callable[[Any], Any]:
        """Register how to find the owner (a sales user) of a case's subject."""
        return self._register(self.subject_owners, subject_type)

    def subject_owner_batch(self, subject_type: str) -> Callable[[Any], Any]:
        """Register how to find the owners of many subjects in one query (lists, inbox)."""
        return self._register(self.subject_owner_batches, subject_type)

    def data_view(self, definition: str) -> Callable[[Any], Any]:
        """Register ``fn(session, instance, actor) -> dict``: the case data shown to
        ``actor`` (masking sensitive values by role)."""
        return self._register(self.data_views, definition)

    def guard(self, name: str) -> Callable[[GuardFn], GuardFn]:
        """Register a guard ``fn(ctx, **args) -> reason | None``; a reason refuses (403)."""
        return self._register(self.guards, name)

    def effect(self, name: str) -> Callable[[EffectFn], EffectFn]:
        """Register an effect ``fn(ctx, **args)`` run inside the firing transaction."""
        return self._register(self.effects, name)

    def task(self, name: str) -> Callable[[TaskFn], TaskFn]:
        """Register a background task ``fn(ctx)`` run by a worker after commit."""
        return self._register(self.tasks, name)

    def job(self, name: str, cron: str) -> Callable[[JobFn], JobFn]:
        """Register a cron-like job ``fn(session, now)``; ``cron`` is a crontab expression
        or the name of a setting holding one (resolved by the scheduler)."""

        def decorator(fn: JobFn) -> JobFn:
            if name in self.jobs:
                raise ValueError(f"job {name!r} is registered twice")
            self.jobs[name] = (fn, cron)
            return fn

        return decorator

    @staticmethod
    def _register(table: dict[str, Any], name: str) -> Callable[[Any], Any]:
        def decorator(fn: Any) -> Any:
            if name in table and table[name] is not fn:
                raise ValueError(f"{name!r} is registered twice")
            table[name] = fn
            return fn

        return decorator


registry = Registry()
_loaded = False


def load_domain() -> Registry:
    """Import the engine's built-in guards, effects and tasks and every module of the
    customer-risk plug-in (``workflow.risk``) so their names are registered."""
    global _loaded
    if not _loaded:
        from workflow import risk
        from workflow.engine import builtins

        for package in (builtins, risk):
            for module in pkgutil.walk_packages(package.__path__, f"{package.__name__}."):
                importlib.import_module(module.name)
        for name in ("workflow.audit.checkpoint_job", "workflow.accounts.upkeep"):
            importlib.import_module(name)
        _loaded = True
    return registry
