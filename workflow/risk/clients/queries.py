"""Finding clients: the archive list with filters, text search and keyset pagination,
and reading one client, both limited to what the actor may see."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workflow.errors import Forbidden, NotFound
from workflow.records.identity import Actor
from workflow.risk.clients.model import Client, get_client

# Roles that see the whole archive; sales see the clients they own. Admins manage users
# and definitions, not business data: they see no client.
ARCHIVE_ROLES = frozenset({"risk_officer", "legal", "manager", "auditor"})
FILTERS = ("status", "rating", "risk_level", "owner", "client_type")


def _sees_all(actor: Actor) -> bool:
    return actor.is_system or actor.has_any(ARCHIVE_ROLES)


def sees_client(actor: Actor, client: Client) -> bool:
    """Risk officers, legal, managers, auditors and the system see every client; anyone
    else (sales) the clients they own now."""
    return _sees_all(actor) or client.owner == actor.username


def visible_client(session: Session, client_id: int, actor: Actor, *, lock: bool = False) -> Client:
    """The client, if ``actor`` may see it.

    Raises:
        NotFound: no such client, or one ``actor`` may not see (told apart from a missing
            one by nothing, as a case is: a credit code cannot be probed).
    """
    client = get_client(session, client_id, lock=lock)
    if not sees_client(actor, client):
        raise NotFound(f"client {client_id} does not exist")
    return client


def read_client(session: Session, client_id: int, actor: Actor) -> Client:
    """Raises:
    Forbidden: a role that reads no client (checked first, whether the client exists or not).
    NotFound: no such client, or a sales user asking for a client owned by someone else."""
    if not _sees_all(actor) and "sales" not in actor.roles:
        raise Forbidden(
            "reading the client archive needs one of the roles "
            f"{', '.join(sorted(ARCHIVE_ROLES | {'sales'}))}",
            rule="role",
            code="role.required",
            params={"roles": sorted(ARCHIVE_ROLES | {"sales"})},
        )
    return visible_client(session, client_id, actor)


def _like(text: str) -> str:
    escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
    return f"%{escaped}%"


def list_clients(
    session: Session,
    actor: Actor,
    filters: Mapping[str, Any],
    *,
    limit: int,
    before_id: int | None = None,
) -> tuple[list[Client], int | None]:
    """Clients matching ``filters`` (status, rating, risk_level, owner, client_type; ``q`` searches name
    and credit code), newest first; returns the page and the cursor of the next one."""
    stmt = select(Client).order_by(Client.id.desc())
    if not _sees_all(actor):
        stmt = stmt.where(Client.owner == actor.username)
    for key in FILTERS:
        if filters.get(key) is not None:
            stmt = stmt.where(getattr(Client, key) == filters[key])
    text = (filters.get("q") or "").strip()
    if text:
        stmt = stmt.where(
            or_(
                func.lower(Client.name).like(_like(text.lower()), escape="\\"),
                Client.credit_code.like(_like(text.upper()), escape="\\"),
            )
        )
    if before_id is not None:
        stmt = stmt.where(Client.id < before_id)
    rows = list(session.execute(stmt.limit(limit + 1)).scalars())
    more = len(rows) > limit
    rows = rows[:limit]
    return rows, (rows[-1].id if more and rows else None)


def with_client_name(session: Session, data: dict[str, Any]) -> dict[str, Any]:
    """Case data with the client's current name as ``client_name``. Cases keep only a
    reference (``client_id``): a copy of the name in the case data would also be in the
    audit trail for good, where an erasure could not reach it."""
    client_id = data.get("client_id")
    if client_id is None or data.get("client_name"):
        return data
    client = session.get(Client, client_id)
    return {**data, "client_name": client.name if client is not None else None}
