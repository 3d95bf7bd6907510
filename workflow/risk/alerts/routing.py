"""Routing an alert to its owners from rules kept as data (the definition's ``settings.routing``).

Default: the client's owner plus the risk team (holders of ``roles``). Each rule
whose ``when`` matches adds its ``users`` and the active holders of its ``roles``;
a rule may match on ``level``, ``category``, ``region`` or ``industry`` (one value
or a list). ``client_owner: false`` on a matching rule drops the client's owner.
"""

from __future__ import annotations

from typing import Any

from sqlalchemy.orm import Session

from workflow.engine.builtins.tasks import users_with_roles
from workflow.risk.clients.model import Client

MATCH_KEYS = ("level", "category", "region", "industry")


def matches(when: dict[str, Any], facts: dict[str, Any]) -> bool:
    for key, wanted in (when or {}).items():
        if key not in MATCH_KEYS:
            raise ValueError(f"routing rule key {key!r} is unknown; use {', '.join(MATCH_KEYS)}")
        allowed = wanted if isinstance(wanted, list) else [wanted]
        if facts.get(key) not in allowed:
            return False
    return True


def route(
    session: Session, routing: dict[str, Any], client: Client, level: str, category: str
) -> list[str]:
    """Usernames owning an alert of ``level``/``category`` on ``client`` (sorted, unique)."""
    facts = {
        "level": level,
        "category": category,
        "region": client.region,
        "industry": client.industry,
    }
    include_owner = bool(routing.get("client_owner", True))
    users: set[str] = set(routing.get("users") or [])
    roles: set[str] = set(routing.get("roles") or [])
    for rule in routing.get("rules") or []:
        if not matches(rule.get("when") or {}, facts):
            continue
        users.update(rule.get("users") or [])
        roles.update(rule.get("roles") or [])
        if rule.get("client_owner") is False:
            include_owner = False
    if include_owner and client.owner:
        users.add(client.owner)
    if roles:
        users.update(users_with_roles(session, sorted(roles)))
    return sorted(users)
