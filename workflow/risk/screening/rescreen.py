"""Re-screening active clients after a watch-list import, against only what changed.

An import marks its added and changed entries (the delta) and queues
``rescreen_watchlist``. Each run of the task takes the next chunk of active clients
after the import's cursor, matches them against the delta by credit code, ID number
and name (the same matcher as admission screening), records every hit as a
``watchlist_hit`` risk event, advances the cursor and queues the next chunk — all in
one transaction. A worker killed mid-chunk loses only that uncommitted chunk, which
the redelivered message does again; the ``(source, external_id)`` key of risk events
keeps a hit from being recorded twice whatever happens. The monitoring processor
acts on the events (alerts, tags, re-rating); this module only records them.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import insert, select
from sqlalchemy.orm import Session

from workflow.engine.context import TaskContext
from workflow.engine.registry import Registry
from workflow.records import outbox
from workflow.risk.clients.model import Client
from workflow.risk.events.intake import monitor_later
from workflow.risk.events.model import RiskEvent
from workflow.risk.screening.name_index import build_index
from workflow.risk.screening.names import NameIndex, Thresholds, fold_once
from workflow.risk.screening.watchlist import (
    RESCREEN_TASK,
    WatchlistClearance,
    WatchlistEntry,
    WatchlistImport,
    id_number_digest,
)

registry = Registry()
log = logging.getLogger(__name__)

SOURCE = "watchlist"
RECORDED_BY = "system:watchlist"
CHUNK = 500

_lock = threading.Lock()
_deltas: dict[tuple[str, int, datetime], Delta] = {}


@dataclass(frozen=True)
class Delta:
    """The added and changed entries of one import, indexed for matching."""

    entries: dict[int, WatchlistEntry]
    by_code: dict[str, list[int]]
    by_id_number: dict[str, list[int]]
    names: NameIndex

    @classmethod
    def of(cls, entries: Iterable[WatchlistEntry]) -> Delta:
        found = {e.id: e for e in entries}
        by_code: dict[str, list[int]] = {}
        by_id: dict[str, list[int]] = {}
        for entry in found.values():
            if entry.credit_code:
                by_code.setdefault(entry.credit_code, []).append(entry.id)
            if entry.id_number:
                by_id.setdefault(entry.id_number, []).append(entry.id)
        names = build_index((e.id, e.name, e.aliases) for e in found.values())
        return cls(found, by_code, by_id, names)


def delta_of(session: Session, record: WatchlistImport) -> Delta:
    """The delta of ``record``, read once per process."""
    key = (str(session.get_bind().engine.url), record.id, record.imported_at)
    with _lock:
        if key not in _deltas:
            entries = session.execute(
                select(WatchlistEntry).where(
                    WatchlistEntry.import_id == record.id, WatchlistEntry.changed.is_(True)
                )
            ).scalars()
            for entry in (delta := Delta.of(entries)).entries.values():
                session.expunge(entry)
            _deltas.clear()  # one import at a time is re-screened; keep memory flat
            _deltas[key] = delta
        return _deltas[key]


def client_hits(
    delta: Delta, client: Any, thresholds: Thresholds
) -> list[tuple[WatchlistEntry, dict[str, Any]]]:
    """The delta entries ``client`` (id, name, credit_code, id_number) hits, with the match."""
    found: dict[int, dict[str, Any]] = {}
    for entry_id in delta.by_code.get(client.credit_code or "", []):
        found[entry_id] = {"score": 100, "match": "credit_code", "certainty": "certain"}
    for entry_id in delta.by_id_number.get(id_number_digest(client.id_number), []):
        found[entry_id] = {"score": 100, "match": "id_number", "certainty": "certain"}
    # folded without the cache: each client once per import, and memory stays flat
    for hit in delta.names.search(fold_once(client.name or ""), floor=thresholds.possible):
        if hit.ref not in found:
            found[hit.ref] = {
                "score": hit.score,
                "match": hit.path,
                "certainty": thresholds.certainty(hit.score) or "possible",
                "matched_name": hit.name,
            }
    return [(delta.entries[i], found[i]) for i in sorted(found)]


def _event(client_id: int, entry: WatchlistEntry, match: dict[str, Any], now: datetime) -> dict:
    return {
        "client_id": client_id,
        "type": "watchlist_hit",
        "title": f"{entry.list_name}: {entry.name or entry.credit_code}"[:200],
        "details": entry.reason,
        "keywords": [entry.list_name],
        "data": {
            "list": entry.list_name,
            "name": entry.name,
            "score": match["score"],
            "match": match["match"],
            "certainty": match["certainty"],
            "entry_id": entry.id,
        },
        "source": SOURCE,
        "external_id": f"{entry.list_name}:{entry.content_key}:{client_id}",
        "occurred_at": now,
        "received_at": now,
        "recorded_by": RECORDED_BY,
        "outcome": None,
    }


def rescreen_chunk(
    session: Session, import_id: int, thresholds: Thresholds, now: datetime, *, chunk: int = CHUNK
) -> bool:
    """Re-screen the next ``chunk`` active clients of import ``import_id``; returns whether
    more remain. The caller commits (the events, the cursor and the next message together)."""
    record = session.execute(
        select(WatchlistImport).where(WatchlistImport.id == import_id).with_for_update()
    ).scalar_one_or_none()
    if record is None or record.rescreen_status != "pending":
        return False
    delta = delta_of(session, record)
    # whole records: the ID number is sealed with each record's key, opened in Python
    clients = list(
        session.execute(
            select(Client)
            .where(Client.status == "active", Client.id > record.rescreen_cursor)
            .order_by(Client.id)
            .limit(chunk)
        ).scalars()
    )
    cleared = {
        (row.client_id, row.list_name, row.content_key)
        for row in session.execute(
            select(
                WatchlistClearance.client_id,
                WatchlistClearance.list_name,
                WatchlistClearance.content_key,
            ).where(WatchlistClearance.client_id.in_([c.id for c in clients]))
        )
    }
    events = [
        _event(client.id, entry, match, now)
        for client in clients
        for entry, match in client_hits(delta, client, thresholds)
        # a reviewer found this very entry is not this client (it came back unchanged);
        # a credit code or an ID number on a list is the client whatever was cleared
        if match["match"] in ("credit_code", "id_number")
        or (client.id, entry.list_name, entry.content_key) not in cleared
    ]
    if events:
        known = set(
            session.execute(
                select(RiskEvent.external_id).where(
                    RiskEvent.source == SOURCE,
                    RiskEvent.external_id.in_([e["external_id"] for e in events]),
                )
            ).scalars()
        )
        fresh = [e for e in events if e["external_id"] not in known]
        if fresh:
            session.execute(insert(RiskEvent), fresh)
            # the monitoring rules act on the hits once this chunk commits (not at the sweep)
            monitor_later(
                session,
                list(
                    session.execute(
                        select(RiskEvent.id).where(
                            RiskEvent.source == SOURCE,
                            RiskEvent.external_id.in_([e["external_id"] for e in fresh]),
                        )
                    ).scalars()
                ),
            )
        record.hits += len(fresh)
    record.clients_rescreened += len(clients)
    if clients:
        record.rescreen_cursor = clients[-1].id
    if len(clients) < chunk:
        record.rescreen_status = "done"
        record.finished_at = now
        log.info(
            "watch-list import %d: %d active client(s) re-screened, %d hit(s)",
            record.id,
            record.clients_rescreened,
            record.hits,
        )
        return False
    return True


@registry.task(RESCREEN_TASK)
def rescreen_watchlist(ctx: TaskContext) -> None:
    """One chunk of the re-screening of import ``args.import_id``; queues the next one."""
    import_id = int(ctx.args["import_id"])
    thresholds = Thresholds.from_settings(ctx.settings)
    if rescreen_chunk(ctx.session, import_id, thresholds, ctx.now):
        outbox.enqueue(ctx.session, RESCREEN_TASK, {"import_id": import_id})
