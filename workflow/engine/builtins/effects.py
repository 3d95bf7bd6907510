"""Effects any definition may name: keep the action's input, remember who acted, mark an
SLA breach. An effect runs inside the firing's transaction."""

from __future__ import annotations

from typing import Any

from workflow.engine.context import FireContext
from workflow.engine.registry import Registry

registry = Registry()


@registry.effect("mark_breached")
def mark_breached(ctx: FireContext, notify_roles: list[str] | None = None) -> None:
    """Record an SLA breach and tell the holders of ``notify_roles`` (escalation)."""
    ctx.instance.breached = True
    breaches = int(ctx.instance.data.get("breaches", 0)) + 1
    ctx.instance.data = {**ctx.instance.data, "breaches": breaches}
    ctx.audit["breaches"] = breaches
    ctx.enqueue(
        "notify",
        {
            "event": "sla_breached",
            "instance_id": ctx.instance.id,
            "state": ctx.from_state,
            "definition": ctx.definition.name,
            "definition_version": ctx.definition.version,
            "roles": list(notify_roles or []),
            "breaches": breaches,
        },
    )


@registry.effect("store_payload")
def store_payload(
    ctx: FireContext, key: str | None = None, fields: list[str] | None = None
) -> None:
    """Keep the action's input (or some fields of it) in the case data under ``key``."""
    values: dict[str, Any] = {k: v for k, v in ctx.payload.items() if not fields or k in fields}
    entry = {**values, "by": ctx.actor.username, "at": ctx.now.isoformat() + "Z"}
    if ctx.comment:
        entry["comment"] = ctx.comment
    ctx.instance.data = {**ctx.instance.data, (key or ctx.transition.trigger): entry}


@registry.effect("record_actor")
def record_actor(ctx: FireContext, key: str) -> None:
    """Remember who did this step in ``data[key]`` (for later guards)."""
    ctx.instance.data = {**ctx.instance.data, key: ctx.actor.username}
