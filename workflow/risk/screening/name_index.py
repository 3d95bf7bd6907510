"""The name index over the imported watch lists, built once per list version and process.

Building reads every entry's name and aliases once (streamed); each import writes a
new :class:`WatchlistImport` row, so the newest import is the version: a process
that sees a newer one rebuilds, the others keep theirs.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.risk.screening.names import NameIndex, Thresholds
from workflow.risk.screening.watchlist import WatchlistEntry, cleared_keys, lists_version

_lock = threading.Lock()
_cache: dict[str, tuple[tuple[Any, ...], NameIndex]] = {}


@dataclass(frozen=True)
class NameHit:
    """A watch-list entry whose name or alias is like a client's name."""

    entry: WatchlistEntry
    name: str
    score: int
    match: str
    certainty: str

    def to_dict(self) -> dict[str, Any]:
        """An item of an admission's ``possible_matches`` (README, Name screening)."""
        return {
            "list": self.entry.list_name,
            "name": self.name,
            "score": self.score,
            "match": self.match,
            "certainty": self.certainty,
            "entry_id": self.entry.id,
            "content_key": self.entry.content_key,
            "reason": self.entry.reason,
        }


def build_index(rows: Iterable[tuple[int, str, list[str] | None]]) -> NameIndex:
    """An index over ``(entry id, name, aliases)`` rows."""
    index = NameIndex()
    for ref, name, aliases in rows:
        index.add(ref, name or "", aliases or ())
    return index


def watchlist_index(session: Session) -> NameIndex:
    """The index of the current lists of ``session``'s database (rebuilt after an import)."""
    key = str(session.get_bind().engine.url)
    version = lists_version(session)
    with _lock:
        cached = _cache.get(key)
        if cached is not None and cached[0] == version:
            return cached[1]
        rows = session.execute(
            select(
                WatchlistEntry.id, WatchlistEntry.name, WatchlistEntry.aliases
            ).execution_options(yield_per=5_000)
        )
        index = build_index((r.id, r.name, r.aliases) for r in rows)
        _cache[key] = (version, index)
        return index


def name_hits(
    session: Session,
    index: NameIndex,
    name: str,
    thresholds: Thresholds,
    *,
    client_id: int | None = None,
    skip: Iterable[int] = (),
) -> list[NameHit]:
    """Entries of ``index`` whose names score at least ``thresholds.possible`` against
    ``name``, minus those cleared for ``client_id`` and the entry ids in ``skip``."""
    skipped = set(skip)
    found = [h for h in index.search(name, floor=thresholds.possible) if h.ref not in skipped]
    if not found:
        return []
    entries = {
        e.id: e
        for e in session.execute(
            select(WatchlistEntry).where(WatchlistEntry.id.in_([h.ref for h in found]))
        ).scalars()
    }
    cleared = cleared_keys(session, client_id) if client_id is not None else set()
    hits = []
    for hit in found:
        entry = entries.get(hit.ref)
        if entry is None or (entry.list_name, entry.content_key) in cleared:
            continue
        certainty = thresholds.certainty(hit.score) or "possible"
        hits.append(NameHit(entry, hit.name, hit.score, hit.path, certainty))
    return hits
