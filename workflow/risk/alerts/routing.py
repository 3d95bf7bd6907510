"""Routing an alert to its owners from rules kept as data (the definition's ``settings.routing``).

Default: the client's owner plus the risk team (holders of ``roles``). Each rule
whose ``when`` matches adds its ``users`` and the active holders of its ``roles``;
a rule may match on ``level``, ``category``, ``region`` or ``industry`` (one value
or a list). ``client_owner: false`` on a matching rule drops the client's owner.

Push channels (group robots, ``workflow/risk/notify/robots.py``) are configured the same
way: ``routing.channels`` for every alert and each rule's ``channels`` for the alerts it
matches.
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


def facts_of(client: Client, level: str, category: str) -> dict[str, Any]:
    """What a rule's ``when`` is matched against."""
    return {
        "level": level,
        "category": category,
        "region": client.region,
        "industry": client.industry,
    }


def all_channels(routing: dict[str, Any]) -> list[tuple[str, dict[str, Any] | Any, Any]]:
    """Every push channel configured: ``(key, channel, when)``; ``key`` names where it is
    configured (``routing.rules[1].channels[0]``), so an outbox message carries the key and
    never a URL or a secret; ``when`` is None for the routing's own channels."""
    found: list[tuple[str, Any, Any]] = [
        (f"routing.channels[{i}]", c, None) for i, c in enumerate(routing.get("channels") or [])
    ]
    for r, rule in enumerate(routing.get("rules") or []):
        found += [
            (f"routing.rules[{r}].channels[{i}]", c, rule.get("when") or {})
            for i, c in enumerate(rule.get("channels") or [])
        ]
    return found


def channels_for(routing: dict[str, Any], facts: dict[str, Any]) -> list[tuple[str, Any]]:
    """The push channels of an alert with ``facts``: the routing's own and every matching
    rule's, as ``(key, channel)``."""
    return [
        (key, channel)
        for key, channel, when in all_channels(routing)
        if when is None or matches(when, facts)
    ]


def channel_at(routing: dict[str, Any], key: str) -> Any:
    """The channel configured at ``key``, or None (the configuration changed since)."""
    return next((c for k, c, _ in all_channels(routing) if k == key), None)


def route(
    session: Session, routing: dict[str, Any], client: Client, level: str, category: str
) -> list[str]:
    """Usernames owning an alert of ``level``/``category`` on ``client`` (sorted, unique)."""
    facts = facts_of(client, level, category)
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
