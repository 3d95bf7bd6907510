"""Who acts: a person with roles, or the system running a named job."""

from __future__ import annotations

from dataclasses import dataclass

# The role background steps act with; the engine's role policy always includes it.
SYSTEM_ROLE = "system"


@dataclass(frozen=True)
class Actor:
    """The actor of a command; ``username`` is ``system:<job>`` for background steps."""

    username: str
    roles: frozenset[str]
    user_id: int | None = None

    @classmethod
    def system(cls, job: str) -> Actor:
        return cls(f"system:{job}", frozenset({SYSTEM_ROLE}))

    @property
    def is_system(self) -> bool:
        return SYSTEM_ROLE in self.roles

    def has_any(self, roles: frozenset[str] | set[str]) -> bool:
        return not self.roles.isdisjoint(roles)
