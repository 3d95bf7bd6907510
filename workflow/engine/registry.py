"""Named guards, effects, background tasks and scheduled jobs that definitions refer to.

Definitions (YAML) name these callables; the loader refuses a name that is not
registered. There is no process-wide registry: like a Flask ``Blueprint``, each
provider of named callables owns a ``Registry`` (the engine's builtins, each module
of a plug-in, the audit and accounts jobs) and the composition root joins the ones
it wants with :meth:`Registry.compose`, so adding a workflow means a YAML file and,
at most, a named guard or effect in a registry the application composes.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

GuardFn = Callable[..., "str | None"]
EffectFn = Callable[..., None]
TaskFn = Callable[..., None]
JobFn = Callable[..., None]
# fn(ctx, recipients, title): one more way the ``notify`` task delivers (e-mail, webhooks)
ChannelFn = Callable[..., None]
# a crontab expression, the name of a setting holding one, or fn(settings, session) ->
# crontab (session None when resolved without a database, e.g. at start-up)
CronSpec = str | Callable[[Any, Any], str]


@dataclass
class Registry:
    guards: dict[str, GuardFn] = field(default_factory=dict)
    effects: dict[str, EffectFn] = field(default_factory=dict)
    tasks: dict[str, TaskFn] = field(default_factory=dict)
    jobs: dict[str, tuple[JobFn, CronSpec]] = field(default_factory=dict)
    # subject type -> fn(session, subject_id) -> owner username (for sales visibility)
    subject_owners: dict[str, Callable[..., str | None]] = field(default_factory=dict)
    # subject type -> fn(session, subject_ids) -> {subject_id: owner} (a page of cases at once)
    subject_owner_batches: dict[str, Callable[..., dict[int, str | None]]] = field(
        default_factory=dict
    )
    # definition name -> fn(session, instance, actor) -> the case data this actor may see
    data_views: dict[str, Callable[..., dict[str, Any]]] = field(default_factory=dict)
    channels: list[ChannelFn] = field(default_factory=list)

    @classmethod
    def compose(cls, *registries: Registry) -> Registry:
        """One registry holding every name of ``registries``.

        Raises:
            ValueError: two of them register the same name.
        """
        joined = cls()
        for part in registries:
            for table in (
                "guards",
                "effects",
                "tasks",
                "subject_owners",
                "subject_owner_batches",
                "data_views",
            ):
                for name, fn in getattr(part, table).items():
                    joined._register(getattr(joined, table), name)(fn)
            for name, (fn, cron) in part.jobs.items():
                joined.job(name, cron)(fn)
            joined.channels.extend(c for c in part.channels if c not in joined.channels)
        return joined

    def channel(self, fn: ChannelFn) -> ChannelFn:
        """Register an extra delivery channel ``fn(ctx, recipients, title)`` for ``notify``."""
        if fn not in self.channels:
            self.channels.append(fn)
        return fn

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

    def job(self, name: str, cron: CronSpec) -> Callable[[JobFn], JobFn]:
        """Register a cron-like job ``fn(session, now)``; ``cron`` is a crontab expression,
        the name of a setting holding one, or a function of the settings and a session
        (or None) returning one (resolved by the scheduler at each pass)."""

        def decorator(fn: JobFn) -> JobFn:
            if name in self.jobs and self.jobs[name][0] is not fn:
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
