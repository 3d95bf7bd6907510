"""Guards and effects every definition may use: segregation of duties and SLA marks."""

from __future__ import annotations

import logging
from typing import Any

from sqlalchemy import select

from workflow import texts
from workflow.engine import runtime
from workflow.engine.context import FireContext, TaskContext
from workflow.engine.registry import registry
from workflow.errors import ConditionNotMet, Forbidden, IllegalState, Message
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, Notification, Timer, User, WorkflowInstance

log = logging.getLogger(__name__)


@registry.guard("not_initiator")
def not_initiator(ctx: FireContext) -> str | None:
    """Nobody acts on their own request (maker-checker)."""
    if ctx.actor.username == ctx.instance.created_by:
        return Message("sod.initiator",
                       "segregation of duties: the person who started this case may not decide it")
    return None


# session.info key: fn(instance_id, triggers) -> usernames, or None for a case it does not
# hold; set by a caller that checks many cases at once (the inbox) so that each case does
# not query on its own.
TRIGGER_ACTORS = "riskloop.trigger_actors"


def actors_of(ctx: FireContext, triggers: list[str]) -> set[str]:
    """Usernames that fired any of ``triggers`` on this instance."""
    batch = ctx.session.info.get(TRIGGER_ACTORS)
    known = batch(ctx.instance.id, triggers) if batch is not None else None
    if known is not None:
        return set(known)
    rows = ctx.session.execute(
        select(AuditRecord.actor).where(
            AuditRecord.stream == audit.instance_stream(ctx.instance.id),
            AuditRecord.trigger.in_(triggers),
        )
    ).scalars()
    return set(rows)


@registry.guard("not_actor_of")
def not_actor_of(ctx: FireContext, triggers: list[str], reason: str | None = None) -> str | None:
    """The actor must not have done any of ``triggers`` on this case (e.g. two approvers)."""
    if ctx.actor.username in actors_of(ctx, triggers):
        return Message("sod.repeat_actor", reason or (
            f"segregation of duties: you already did {', '.join(triggers)} on this case; "
            "another person must do this step"), triggers=list(triggers))
    return None


@registry.guard("not_data_user")
def not_data_user(ctx: FireContext, key: str, reason: str | None = None) -> str | None:
    """The actor must not be the user recorded at ``data[key]`` (e.g. the analyst)."""
    if ctx.instance.data.get(key) == ctx.actor.username:
        return Message("sod.data_user", reason or f"segregation of duties: the {key} may not do this step",
                       key=key)
    return None


@registry.guard("assignee_only")
def assignee_only(ctx: FireContext, roles_exempt: list[str] | None = None) -> str | None:
    """Only the case's assignees (or holders of ``roles_exempt``) may act when it has any."""
    if not ctx.instance.assignees or ctx.actor.username in ctx.instance.assignees:
        return None
    if roles_exempt and ctx.actor.has_any(set(roles_exempt)):
        return None
    return Message("guard.assignee_only", "this case is assigned to someone else")


@registry.effect("mark_breached")
def mark_breached(ctx: FireContext, notify_roles: list[str] | None = None) -> None:
    """Record an SLA breach and tell the managers (escalation)."""
    ctx.instance.breached = True
    breaches = int(ctx.instance.data.get("breaches", 0)) + 1
    ctx.instance.data = {**ctx.instance.data, "breaches": breaches}
    ctx.audit["breaches"] = breaches
    ctx.enqueue("notify", {
        "event": "sla_breached",
        "instance_id": ctx.instance.id,
        "state": ctx.from_state,
        "definition": ctx.definition.name, "definition_version": ctx.definition.version,
        "roles": notify_roles or ["manager"],
        "breaches": breaches,
    })


@registry.effect("store_payload")
def store_payload(ctx: FireContext, key: str | None = None, fields: list[str] | None = None) -> None:
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


@registry.task("fire_timer")
def fire_timer(ctx: TaskContext) -> None:
    """Fire a due timer's trigger; a no-op if the case has left the timer's state."""
    from workflow.engine.firing import fire

    timer = ctx.session.get(Timer, ctx.args["timer_id"])
    if timer is None or timer.instance_id is None:
        return
    instance = ctx.session.get(WorkflowInstance, timer.instance_id)
    if instance is None or instance.state != timer.state:
        log.info("timer %s skipped: instance left state %s", timer.id, timer.state)
        return
    try:
        fire(ctx.session, timer.instance_id, timer.trigger or "", Actor.system("timer"),
             comment=texts.say("comment.timer_due", timer=timer.id,
                               due=f"{timer.due_at.isoformat()}Z"))
    except (IllegalState, Forbidden, ConditionNotMet) as exc:
        log.info("timer %s did not fire: %s", timer.id, exc.detail)


@registry.task("run_job")
def run_job(ctx: TaskContext) -> None:
    """Run a cron-like job once and arm its next run (same transaction)."""
    from workflow.background.scheduler import job_key, next_run, resolve_cron
    from workflow.records.timers import schedule_job

    name = ctx.args["job"]
    fn, cron = registry.jobs[name]
    fn(ctx.session, ctx.now, ctx.args)
    settings = runtime.current().settings if runtime._current else {}
    timer = ctx.session.get(Timer, ctx.args.get("timer_id"))
    after = timer.due_at if timer is not None else ctx.now
    due = next_run(resolve_cron(cron, settings), max(after, ctx.now),
                   str(settings.get("RISKLOOP_TIMEZONE", "Asia/Shanghai")))
    schedule_job(ctx.session, name, due, key=job_key(name, due))


def users_with_roles(session: Any, roles: list[str]) -> list[str]:
    """Active usernames holding any of ``roles`` (roles are few; users are hundreds)."""
    wanted = set(roles)
    return sorted(
        u.username for u in session.execute(select(User).where(User.active.is_(True))).scalars()
        if wanted.intersection(u.roles or [])
    )


@registry.task("notify")
def notify(ctx: TaskContext) -> None:
    """Deliver a notification in-app to named users and to holders of roles; other
    channels (e-mail, webhooks) register with :func:`channel`."""
    args = ctx.args
    recipients = set(args.get("users") or [])
    if args.get("roles"):
        recipients.update(users_with_roles(ctx.session, list(args["roles"])))
    if not args.get("title") and args.get("event") == "sla_breached":
        args = {**args, **texts.notification(
            "case.sla_breached", case=args.get("instance_id"), state=args.get("state"),
            definition=args.get("definition"), version=args.get("definition_version"))}
    title = args.get("title") or _default_title(args)
    for username in sorted(recipients):
        ctx.session.add(Notification(
            username=username, event=args.get("event", "info"), title=title[:255],
            body=args.get("body", ""), instance_id=args.get("instance_id"),
            code=args.get("code"), params=args.get("params") if args.get("code") else None,
            outbox_id=ctx.outbox_id, created_at=ctx.now,
        ))
    for deliver in _channels:
        deliver(ctx, sorted(recipients), title)


_channels: list[Any] = []


def channel(fn: Any) -> Any:
    """Register an extra delivery channel ``fn(ctx, recipients, title)`` for ``notify``."""
    _channels.append(fn)
    return fn


def _default_title(args: dict[str, Any]) -> str:
    event = args.get("event", "info")
    return f"{event} on case #{args.get('instance_id')}"
