"""Managing the local watch lists from the console: who may upload and read, the lists with
their entry counts, a list's entries (searched, paged) and the import history.

An upload goes through the same :func:`~workflow.risk.screening.watchlist.import_watchlist`
as ``riskloop watchlist import``: streamed, a file with a bad row imports nothing, and the
re-screening of active clients against what changed is queued for the workers (its progress —
clients re-screened, hits recorded — is kept on the import's record).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import IO, Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workflow.errors import Forbidden
from workflow.platform.filestore import clean_filename
from workflow.records.identity import Actor
from workflow.risk.clients.creditcode import normalize_credit_code
from workflow.risk.screening.watchlist import (
    ImportSummary,
    WatchlistEntry,
    WatchlistImport,
    id_number_digest,
    import_watchlist,
)
from workflow.risk.screening.watchlist_files import LISTS, read_watchlist_stream

# Risk officers and managers replace lists (the CLI is the operators'); auditors read.
UPLOADERS = frozenset({"risk_officer", "manager"})
READERS = UPLOADERS | {"auditor"}
MAX_SEARCH = 200


def _require(actor: Actor, roles: frozenset[str], what: str) -> None:
    if not actor.has_any(roles):
        raise Forbidden(
            f"{what} needs one of the roles {', '.join(sorted(roles))}",
            rule="role",
            code="role.required",
            params={"roles": sorted(roles)},
        )


def require_reader(actor: Actor) -> None:
    """Raises:
    Forbidden: the actor may not see the watch lists."""
    _require(actor, READERS, "reading the watch lists")


def require_uploader(actor: Actor) -> None:
    """Raises:
    Forbidden: the actor may not import a watch list (checked before the file is read)."""
    _require(actor, UPLOADERS, "importing a watch list")


def may_upload(actor: Actor) -> bool:
    return actor.has_any(UPLOADERS)


def source_name(filename: str) -> str:
    """An uploaded file's name as recorded and shown: no folders or control characters."""
    return clean_filename(filename)[:255] or "watchlist.csv"


def upload(session: Session, binary: IO[bytes], filename: str, actor: Actor) -> ImportSummary:
    """Import an uploaded file inside the caller's transaction.

    Raises:
        Forbidden: the actor may not import.
        ValidationFailed: the file is unreadable or has bad rows (each named); the caller
            rolls back and nothing is imported.
    """
    require_uploader(actor)
    name = source_name(filename)
    return import_watchlist(session, read_watchlist_stream(binary, name), actor, source=name)


def entry_counts(session: Session) -> dict[str, int]:
    """Every known list with its number of entries (0 for a list never imported)."""
    found = dict(
        session.execute(
            select(WatchlistEntry.list_name, func.count()).group_by(WatchlistEntry.list_name)
        ).all()
    )
    return {name: int(found.get(name, 0)) for name in (*LISTS, *sorted(set(found) - set(LISTS)))}


@dataclass(frozen=True)
class EntryView:
    """An entry as shown: never the ID number (only whether one is on file)."""

    id: int
    list_name: str
    name: str
    aliases: list[str]
    credit_code: str
    has_id_number: bool
    reason: str
    source: str
    imported_at: Any


def search_entries(
    session: Session, list_name: str, query: str = "", *, after_id: int = 0, limit: int = 50
) -> tuple[list[EntryView], int | None]:
    """A page of ``list_name``'s entries whose name contains ``query``, whose credit code
    starts with it, or whose ID number is it (compared as digests), oldest first; and the
    cursor of the next page (None on the last)."""
    entry = WatchlistEntry
    statement = select(entry).where(entry.list_name == list_name, entry.id > after_id)
    text = query.strip()[:MAX_SEARCH]
    if text:
        escaped = text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_")
        statement = statement.where(
            or_(
                entry.name.ilike(f"%{escaped}%", escape="\\"),
                entry.credit_code.startswith(normalize_credit_code(text), autoescape=True),
                entry.id_number == id_number_digest(text),
            )
        )
    rows = list(session.execute(statement.order_by(entry.id).limit(limit + 1)).scalars())
    more = len(rows) > limit
    views = [
        EntryView(
            e.id,
            e.list_name,
            e.name,
            list(e.aliases or []),
            e.credit_code,
            bool(e.id_number),
            e.reason,
            e.source,
            e.imported_at,
        )
        for e in rows[:limit]
    ]
    return views, (views[-1].id if more else None)


def import_history(
    session: Session, *, before_id: int | None = None, limit: int = 50
) -> tuple[list[WatchlistImport], int | None]:
    """Imports newest first (who, when, file, counts, re-screening) and the next cursor."""
    statement = select(WatchlistImport)
    if before_id:
        statement = statement.where(WatchlistImport.id < before_id)
    rows = list(
        session.execute(statement.order_by(WatchlistImport.id.desc()).limit(limit + 1)).scalars()
    )
    more = len(rows) > limit
    return rows[:limit], (rows[limit - 1].id if more else None)


def totals_of(counts: dict[str, dict[str, int]]) -> dict[str, int]:
    """Per-list counts summed: rows, added, changed, removed."""
    keys = ("rows", "added", "changed", "removed")
    return {k: sum(int(c.get(k, 0)) for c in counts.values()) for k in keys}


def totals(record: WatchlistImport) -> dict[str, int]:
    """One import's counts summed over its lists."""
    return totals_of(record.counts or {})
