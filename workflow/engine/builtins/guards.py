"""Guards any definition may name: segregation of duties (maker ≠ checker) and who acts.

A guard returns the reason it refuses, or None; the engine answers 403 with the
guard's name as ``rule``. Guards are checked after the transition's ``roles``, so
"needs one of these roles" is the definition's ``roles`` list and these guards add
what a role list cannot say: the requester never decides (``not_initiator``), the
second approver is not the first (``not_actor_of``), and so on.
"""

from __future__ import annotations

from sqlalchemy import select

from workflow.engine.context import FireContext
from workflow.engine.registry import Registry
from workflow.errors import Message
from workflow.records import trail as audit
from workflow.records.models import AuditRecord

registry = Registry()

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


@registry.guard("not_initiator")
def not_initiator(ctx: FireContext) -> str | None:
    """Nobody acts on their own request (maker-checker)."""
    if ctx.actor.username == ctx.instance.created_by:
        return Message(
            "sod.initiator",
            "segregation of duties: the person who started this case may not decide it",
        )
    return None


@registry.guard("not_actor_of")
def not_actor_of(ctx: FireContext, triggers: list[str], reason: str | None = None) -> str | None:
    """The actor must not have done any of ``triggers`` on this case (e.g. two approvers)."""
    if ctx.actor.username in actors_of(ctx, triggers):
        return Message(
            "sod.repeat_actor",
            reason
            or (
                f"segregation of duties: you already did {', '.join(triggers)} on this case; "
                "another person must do this step"
            ),
            triggers=list(triggers),
        )
    return None


@registry.guard("not_data_user")
def not_data_user(ctx: FireContext, key: str, reason: str | None = None) -> str | None:
    """The actor must not be the user recorded at ``data[key]`` (e.g. the analyst)."""
    if ctx.instance.data.get(key) == ctx.actor.username:
        return Message(
            "sod.data_user",
            reason or f"segregation of duties: the {key} may not do this step",
            key=key,
        )
    return None


@registry.guard("no_roles")
def no_roles(ctx: FireContext, roles: list[str], reason: str | None = None) -> str | None:
    """Holders of any of ``roles`` may not do this step, whatever other roles they also
    hold (e.g. auditors and admins never approve)."""
    held = sorted(ctx.actor.roles.intersection(roles))
    if held:
        return Message(
            "sod.no_roles",
            reason
            or (
                f"segregation of duties: a user holding the role {', '.join(held)} may not do "
                "this step, even with another role; ask an approver without it"
            ),
            roles=held,
        )
    return None


@registry.guard("initiator_only")
def initiator_only(ctx: FireContext, reason: str | None = None) -> str | None:
    """Only the person who started the case may do this step (e.g. cancel a request)."""
    if ctx.actor.username != ctx.instance.created_by:
        return Message(
            "guard.initiator_only",
            reason or (f"only {ctx.instance.created_by}, who started this case, may do this step"),
            initiator=ctx.instance.created_by,
        )
    return None


@registry.guard("assignee_only")
def assignee_only(ctx: FireContext, roles_exempt: list[str] | None = None) -> str | None:
    """Only the case's assignees (or holders of ``roles_exempt``) may act when it has any."""
    if not ctx.instance.assignees or ctx.actor.username in ctx.instance.assignees:
        return None
    if roles_exempt and ctx.actor.has_any(set(roles_exempt)):
        return None
    return Message("guard.assignee_only", "this case is assigned to someone else")
