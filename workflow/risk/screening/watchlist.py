"""Local watch lists (黑名单, 失信被执行人, 制裁名单) that the built-in screening provider reads.

Lists arrive as CSV or JSON files (see :mod:`workflow.risk.screening.watchlist_files`)
through ``riskloop watchlist import FILE``. Importing a file replaces each list it
contains in one transaction, so screening sees either the old list or the new one,
never half of each. Rows are inserted in batches as the file is read, so a list of a
million entries imports in bounded memory.

Each entry carries a content key (a hash of everything it says) and an identity key
(its list and credit code, ID number or name). Comparing the new rows with the old
ones in SQL gives the delta — entries added or changed — that active clients are
re-screened against (:mod:`workflow.risk.screening.rescreen`); importing the same
list twice changes nothing. A reviewer's "not this client" (a cleared false
positive) is remembered per client and content key, so it holds until the entry
changes.
"""

from __future__ import annotations

import hashlib
import json
import unicodedata
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from itertools import islice
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    and_,
    delete,
    exists,
    func,
    insert,
    or_,
    select,
    update,
)
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from workflow.platform import clock
from workflow.platform.db import Base, BigId, JsonType
from workflow.records import outbox
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.risk.clients.creditcode import normalize_credit_code
from workflow.risk.screening.watchlist_files import (
    COLUMNS,
    LISTS,
    normalize_id_number,
    parse_watchlist,
)

__all__ = ["COLUMNS", "LISTS", "import_watchlist", "listings", "parse_watchlist"]

AUDIT_STREAM = "system:watchlist"
RESCREEN_TASK = "rescreen_watchlist"
_BATCH = 2_000


class WatchlistEntry(Base):
    """One company or person on one watch list."""

    __tablename__ = "watchlist_entries"
    __table_args__ = (
        Index("ix_watchlist_entries_code", "credit_code"),
        Index("ix_watchlist_entries_id_number", "id_number"),
        Index("ix_watchlist_entries_content", "list_name", "content_key"),
        Index("ix_watchlist_entries_identity", "list_name", "identity_key"),
        Index("ix_watchlist_entries_import", "import_id", "changed"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    list_name: Mapped[str] = mapped_column(String(32))
    credit_code: Mapped[str] = mapped_column(String(18))  # "" when the list gives none
    # SHA-256 of the normalised ID number (never the number itself); "" when none.
    id_number: Mapped[str] = mapped_column(String(64), default="")
    name: Mapped[str] = mapped_column(String(200), default="")
    aliases: Mapped[list[str]] = mapped_column(JsonType, default=list)
    reason: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(255), default="")
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    import_id: Mapped[int | None] = mapped_column(BigId)
    content_key: Mapped[str] = mapped_column(String(64), default="")
    identity_key: Mapped[str] = mapped_column(String(64), default="")
    # Added or changed by the import that wrote it (the delta clients are re-screened against).
    changed: Mapped[bool] = mapped_column(Boolean, default=False)


class WatchlistImport(Base):
    """One import of a watch-list file, its delta and the progress of its re-screening."""

    __tablename__ = "watchlist_imports"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    source: Mapped[str] = mapped_column(String(255))
    imported_by: Mapped[str] = mapped_column(String(96))
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    # {list: {rows, added, changed, removed}}
    counts: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    # none (no delta) | pending | done; the cursor is the last client id re-screened.
    rescreen_status: Mapped[str] = mapped_column(String(16), default="none")
    rescreen_cursor: Mapped[int] = mapped_column(BigId, default=0)
    clients_rescreened: Mapped[int] = mapped_column(Integer, default=0)
    hits: Mapped[int] = mapped_column(Integer, default=0)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)


class WatchlistClearance(Base):
    """A reviewer's finding that a possible name match is not this client (a false
    positive), kept for the entry's content: a changed entry is raised again."""

    __tablename__ = "watchlist_clearances"
    __table_args__ = (UniqueConstraint("client_id", "list_name", "content_key"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(BigId)
    list_name: Mapped[str] = mapped_column(String(32))
    content_key: Mapped[str] = mapped_column(String(64))
    entry_name: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(Text, default="")
    cleared_by: Mapped[str] = mapped_column(String(96))
    cleared_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    instance_id: Mapped[int | None] = mapped_column(BigId)


@dataclass
class ImportSummary:
    """What an import did: per list ``rows``, ``added``, ``changed``, ``removed``."""

    import_id: int
    counts: dict[str, dict[str, int]] = field(default_factory=dict)

    @property
    def delta(self) -> int:
        return sum(c["added"] + c["changed"] for c in self.counts.values())


def id_number_digest(id_number: str | None) -> str:
    """The stored form of an ID number: a SHA-256 of its normalised text ("" for none)."""
    number = normalize_id_number(id_number or "")
    return hashlib.sha256(number.encode()).hexdigest() if number else ""


def _row(entry: dict[str, Any], import_id: int, source: str, now: datetime) -> dict[str, Any]:
    aliases = [a[:200] for a in entry.get("aliases") or []]
    digest = id_number_digest(entry.get("id_number"))
    name = str(entry.get("name") or "")[:200]
    reason = str(entry.get("reason") or "")[:500]
    content = json.dumps(
        [entry["list"], entry["credit_code"], digest, name, sorted(aliases), reason],
        ensure_ascii=False,
    )
    folded = "".join(unicodedata.normalize("NFKC", name).lower().split())
    identity = entry["credit_code"] or digest or folded
    return {
        "list_name": entry["list"],
        "credit_code": entry["credit_code"],
        "id_number": digest,
        "name": name,
        "aliases": aliases,
        "reason": reason,
        "source": source[:255],
        "imported_at": now,
        "import_id": import_id,
        "content_key": hashlib.sha256(content.encode()).hexdigest(),
        "identity_key": hashlib.sha256(f"{entry['list']}\n{identity}".encode()).hexdigest(),
        "changed": False,
    }


def _batches(rows: Iterable[dict[str, Any]], size: int) -> Iterator[list[dict[str, Any]]]:
    iterator = iter(rows)
    while batch := list(islice(iterator, size)):
        yield batch


def import_watchlist(
    session: Session,
    entries: Iterable[dict[str, Any]],
    actor: Actor,
    *,
    source: str,
    lists: Iterable[str] | None = None,
    progress: Callable[[int], None] | None = None,
) -> ImportSummary:
    """Replace each list present in ``entries`` (or named in ``lists``) inside the caller's
    transaction, work out the delta, and queue the re-screening of active clients against
    it. ``progress`` hears the number of rows written after every batch.

    Raises:
        ValidationFailed: from ``entries`` (a checked file) once it is read; the caller
            rolls back and nothing is imported.
    """
    now = clock.now()
    record = WatchlistImport(source=source[:255], imported_by=actor.username[:96], imported_at=now)
    session.add(record)
    session.flush()
    seen: set[str] = set()
    written = 0
    for batch in _batches(entries, _BATCH):
        rows = [_row(e, record.id, source, now) for e in batch]
        seen.update(r["list_name"] for r in rows)
        session.execute(insert(WatchlistEntry), rows)
        written += len(rows)
        if progress is not None:
            progress(written)
    replaced = sorted(set(lists or ()) | seen)
    counts = _apply_delta(session, record.id, replaced)
    record.counts = counts
    summary = ImportSummary(record.id, counts)
    if summary.delta:
        record.rescreen_status = "pending"
        outbox.enqueue(session, RESCREEN_TASK, {"import_id": record.id})
    audit.record_event(
        session,
        AUDIT_STREAM,
        "watchlist.imported",
        actor,
        payload={"source": source[:255], "import_id": record.id, "lists": counts},
    )
    return summary


def _apply_delta(
    session: Session, import_id: int, replaced: list[str]
) -> dict[str, dict[str, int]]:
    """Mark the new rows that are added or changed, count what went, drop the old rows."""
    entry, old = WatchlistEntry, aliased(WatchlistEntry)
    older = or_(old.import_id.is_(None), old.import_id != import_id)
    session.execute(
        update(entry)
        .where(
            entry.import_id == import_id,
            ~exists().where(
                old.list_name == entry.list_name, old.content_key == entry.content_key, older
            ),
        )
        .values(changed=True)
        .execution_options(synchronize_session=False)  # no row ids fetched back
    )

    def per_list(query: Any) -> dict[str, int]:
        return {name: int(n) for name, n in session.execute(query).all()}

    new = entry.import_id == import_id
    rows = per_list(select(entry.list_name, func.count()).where(new).group_by(entry.list_name))
    same_identity = exists().where(
        old.list_name == entry.list_name, old.identity_key == entry.identity_key, older
    )
    changed = per_list(
        select(entry.list_name, func.count())
        .where(new, entry.changed.is_(True), same_identity)
        .group_by(entry.list_name)
    )
    touched = per_list(
        select(entry.list_name, func.count())
        .where(new, entry.changed.is_(True))
        .group_by(entry.list_name)
    )
    previous = or_(entry.import_id.is_(None), entry.import_id != import_id)
    removed = per_list(
        select(entry.list_name, func.count())
        .where(
            entry.list_name.in_(replaced),
            previous,
            ~exists().where(
                old.import_id == import_id,
                old.list_name == entry.list_name,
                old.identity_key == entry.identity_key,
            ),
        )
        .group_by(entry.list_name)
    )
    session.execute(
        delete(entry)
        .where(and_(entry.list_name.in_(replaced), previous))
        .execution_options(synchronize_session=False)
    )
    return {
        name: {
            "rows": rows.get(name, 0),
            "added": touched.get(name, 0) - changed.get(name, 0),
            "changed": changed.get(name, 0),
            "removed": removed.get(name, 0),
        }
        for name in replaced
    }


def _entries_where(session: Session, column: Any, value: str) -> list[WatchlistEntry]:
    if not value:
        return []  # an entry without a code or an ID number is matched by name only
    return list(
        session.execute(
            select(WatchlistEntry)
            .where(column == value)
            .order_by(WatchlistEntry.list_name, WatchlistEntry.id)
        ).scalars()
    )


def listings(session: Session, credit_code: str) -> list[WatchlistEntry]:
    """Every watch-list entry for ``credit_code`` (none for an empty code)."""
    code = normalize_credit_code(credit_code or "")
    return _entries_where(session, WatchlistEntry.credit_code, code)


def listings_by_id_number(session: Session, id_number: str | None) -> list[WatchlistEntry]:
    """Every watch-list entry for a person's ID number (none for an empty one)."""
    return _entries_where(session, WatchlistEntry.id_number, id_number_digest(id_number))


def cleared_keys(session: Session, client_id: int) -> set[tuple[str, str]]:
    """``(list, content key)`` of the entries reviewers found are not ``client_id``."""
    return {
        (row.list_name, row.content_key)
        for row in session.execute(
            select(WatchlistClearance.list_name, WatchlistClearance.content_key).where(
                WatchlistClearance.client_id == client_id
            )
        )
    }


def lists_version(session: Session) -> tuple[Any, ...]:
    """What identifies the current lists: the newest import (id, time, source, counts)."""
    row = session.execute(
        select(
            WatchlistImport.id,
            WatchlistImport.imported_at,
            WatchlistImport.source,
            WatchlistImport.counts,
        )
        .order_by(WatchlistImport.id.desc())
        .limit(1)
    ).first()
    if row is None:
        return (0,)
    return (row.id, row.imported_at, row.source, json.dumps(row.counts, sort_keys=True))
