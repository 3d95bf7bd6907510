"""Segregation-of-duties guards any definition may name, next to the engine's own
``not_initiator`` (the requester never decides) and ``not_actor_of`` (the second
approver is not the first).

A guard returns the reason it refuses, or None; the engine answers 403 with the
guard's name as ``rule``. Guards are checked after the transition's ``roles``, so
"needs one of these roles" is the definition's ``roles`` list and these guards add
what a role list cannot say.
"""

from __future__ import annotations

from workflow.engine.context import FireContext
from workflow.engine.registry import registry
from workflow.errors import Message


@registry.guard("no_roles")
def no_roles(ctx: FireContext, roles: list[str], reason: str | None = None) -> str | None:
    """Holders of any of ``roles`` may not do this step, whatever other roles they also
    hold (auditors and admins never approve, SPEC 1)."""
    held = sorted(ctx.actor.roles.intersection(roles))
    if held:
        return Message("sod.no_roles", reason or (
            f"segregation of duties: a user holding the role {', '.join(held)} may not do "
            "this step, even with another role; ask an approver without it"), roles=held)
    return None


@registry.guard("initiator_only")
def initiator_only(ctx: FireContext, reason: str | None = None) -> str | None:
    """Only the person who started the case may do this step (e.g. cancel a request)."""
    if ctx.actor.username != ctx.instance.created_by:
        return Message("guard.initiator_only", reason or (
            f"only {ctx.instance.created_by}, who started this case, may do this step"),
            initiator=ctx.instance.created_by)
    return None
