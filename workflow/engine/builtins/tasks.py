"""Background tasks any definition may name: fire a due timer, notify people.

``notify`` writes in-app notifications; other channels (e-mail, webhooks) are
registered with :meth:`Registry.channel` by whoever provides them.
"""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from workflow import texts
from workflow.engine.context import TaskContext
from workflow.engine.firing import fire
from workflow.engine.registry import Registry
from workflow.errors import ConditionNotMet, Forbidden, IllegalState
from workflow.records.identity import Actor
from workflow.records.models import Notification, Timer, User, WorkflowInstance

log = logging.getLogger(__name__)

registry = Registry()


@registry.task("fire_timer")
def fire_timer(ctx: TaskContext) -> None:
    """Fire a due timer's trigger; a no-op if the case has left the timer's state."""
    timer = ctx.session.get(Timer, ctx.args["timer_id"])
    if timer is None or timer.instance_id is None:
        return
    instance = ctx.session.get(WorkflowInstance, timer.instance_id)
    if instance is None or instance.state != timer.state:
        log.info("timer %s skipped: instance left state %s", timer.id, timer.state)
        return
    try:
        fire(
            ctx.session,
            timer.instance_id,
            timer.trigger or "",
            Actor.system("timer"),
            comment=texts.say(
                "comment.timer_due", timer=timer.id, due=f"{timer.due_at.isoformat()}Z"
            ),
        )
    except (IllegalState, Forbidden, ConditionNotMet) as exc:
        log.info("timer %s did not fire: %s", timer.id, exc.detail)


def users_with_roles(session: Any, roles: list[str]) -> list[str]:
    """Active usernames holding any of ``roles`` (roles are few; users are hundreds)."""
    wanted = set(roles)
    return sorted(
        u.username
        for u in session.execute(select(User).where(User.active.is_(True))).scalars()
        if wanted.intersection(u.roles or [])
    )


@registry.task("notify")
def notify(ctx: TaskContext) -> None:
    """Deliver a notification in-app to named users and to holders of roles, then through
    every channel of the registry."""
    args = ctx.args
    recipients = set(args.get("users") or [])
    if args.get("roles"):
        recipients.update(users_with_roles(ctx.session, list(args["roles"])))
    if not args.get("title") and args.get("event") == "sla_breached":
        args = {
            **args,
            **texts.notification(
                "case.sla_breached",
                case=args.get("instance_id"),
                state=args.get("state"),
                definition=args.get("definition"),
                version=args.get("definition_version"),
            ),
        }
    title = args.get("title") or _default_title(args)
    for username in sorted(recipients):
        ctx.session.add(
            Notification(
                username=username,
                event=args.get("event", "info"),
                title=title[:255],
                body=args.get("body", ""),
                instance_id=args.get("instance_id"),
                code=args.get("code"),
                params=args.get("params") if args.get("code") else None,
                outbox_id=ctx.outbox_id,
                created_at=ctx.now,
            )
        )
    for deliver in ctx.runtime.registry.channels:
        deliver(ctx, sorted(recipients), title)


def _default_title(args: dict[str, Any]) -> str:
    event = args.get("event", "info")
    return f"{event} on case #{args.get('instance_id')}"
