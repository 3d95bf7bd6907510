"""The roles a workflow may name, given to the engine by the plug-in that owns them.

The engine knows no role by name: a definition is checked against the policy's
roles, the policy says who sees every case and who may never act, and the system
role is the one background steps act with (``Actor.system``).
"""

from __future__ import annotations

from dataclasses import dataclass

from workflow.records.identity import SYSTEM_ROLE, Actor


@dataclass(frozen=True)
class RolePolicy:
    """The roles of one deployment.

    ``roles`` are the roles definitions may name (the system role is always one of
    them); ``see_all`` see every case and its full data; ``non_acting`` read but may
    never be named in a transition's ``roles``; ``administer`` move running instances to
    another definition version (``workflow.engine.migration``).
    """

    roles: frozenset[str]
    see_all: frozenset[str] = frozenset()
    non_acting: frozenset[str] = frozenset()
    administer: frozenset[str] = frozenset()

    def __post_init__(self) -> None:
        object.__setattr__(self, "roles", frozenset(self.roles) | {SYSTEM_ROLE})
        stray = (self.see_all | self.non_acting | self.administer) - self.roles
        if stray:
            raise ValueError(
                f"the policy names roles it does not define: {', '.join(sorted(stray))}"
            )

    @property
    def system(self) -> str:
        """The role background steps act with (``Actor.system``); always one of ``roles``."""
        return SYSTEM_ROLE

    @property
    def user_roles(self) -> frozenset[str]:
        """The roles a person may hold (every role but the system's)."""
        return self.roles - {self.system}

    def sees_everything(self, actor: Actor) -> bool:
        """Holders of a see-all role and the system see every case and its full data."""
        return actor.has_any(self.see_all) or actor.is_system
