"""Steps of the alert loop that are not SLAs or client status: reopen counts and
notifications to the alert's owners."""

from __future__ import annotations

from workflow import texts
from workflow.engine.context import FireContext
from workflow.engine.registry import Registry

registry = Registry()


@registry.effect("count_reopen")
def count_reopen(ctx: FireContext) -> None:
    """A reviewer sent the rectification back: count it (reports show reopen counts)."""
    reopens = int(ctx.instance.data.get("reopens", 0)) + 1
    ctx.instance.data = {
        **ctx.instance.data,
        "reopens": reopens,
        "last_reopen": {
            "by": ctx.actor.username,
            "at": ctx.now.isoformat() + "Z",
            "comment": ctx.comment,
        },
    }
    ctx.audit["reopens"] = reopens


@registry.effect("alert_notify")
def alert_notify(ctx: FireContext, event: str, roles: list[str] | None = None) -> None:
    """Tell the alert's owners (and every holder of ``roles``) what just happened."""
    owners = list(ctx.instance.assignees or [])
    ctx.enqueue(
        "notify",
        {
            "event": event,
            "users": owners,
            "roles": list(roles or []),
            "instance_id": ctx.instance.id,
            **texts.notification(
                "alert.action",
                level=ctx.instance.data.get("level"),
                trigger=ctx.transition.trigger,
                title=str(ctx.instance.data.get("title", "")),
                actor=ctx.actor.username,
                case=ctx.instance.id,
                comment=ctx.comment or "",
                definition=ctx.definition.name,
                version=ctx.definition.version,
            ),
        },
    )
