"""Local watch lists (黑名单, 失信被执行人) that the built-in screening provider reads.

Lists arrive as CSV (header ``credit_code,name,list,reason``) or JSON (a list of
objects with those keys) through ``riskloop watchlist import FILE``. Importing a
file replaces each list it contains in one transaction, so screening sees either
the old list or the new one, never half of each.
"""

from __future__ import annotations

import json
from collections import Counter
from collections.abc import Iterable
from datetime import datetime
from typing import Any

from sqlalchemy import DateTime, Index, String, delete, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflow.errors import ValidationFailed
from workflow.platform import clock
from workflow.platform.db import Base, BigId
from workflow.platform.spreadsheet import read_csv
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.risk.clients.creditcode import normalize_credit_code, validate_credit_code

LISTS = ("blacklist", "dishonest_debtor")
COLUMNS = ("credit_code", "name", "list", "reason")
AUDIT_STREAM = "system:watchlist"


class WatchlistEntry(Base):
    """One company on one watch list."""

    __tablename__ = "watchlist_entries"
    __table_args__ = (Index("ix_watchlist_entries_code", "credit_code"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    list_name: Mapped[str] = mapped_column(String(32))
    credit_code: Mapped[str] = mapped_column(String(18))
    name: Mapped[str] = mapped_column(String(200), default="")
    reason: Mapped[str] = mapped_column(String(500), default="")
    source: Mapped[str] = mapped_column(String(255), default="")
    imported_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


def parse_watchlist(content: bytes | str, filename: str) -> list[dict[str, str]]:
    """Read a CSV or JSON (by ``filename``'s extension) watch-list file into checked rows.

    Raises:
        ValidationFailed: not UTF-8, malformed, a bad header, list or credit code, or text
            that cannot be stored; every bad row is named.
    """
    rows: Iterable[dict[str, Any] | None]
    if filename.lower().endswith(".json"):
        rows = _json_rows(content, filename)
        first_row = 1
    else:
        records = read_csv(content, filename)
        header = tuple(h.strip() for h in next(records, []))
        if header != COLUMNS:
            raise ValidationFailed(
                f"{filename}: the header must be exactly {','.join(COLUMNS)}",
                errors={"header": [f"Found {','.join(header) or 'nothing'}."]},
            )
        rows = (
            dict(zip(COLUMNS, cells, strict=False)) if any(c.strip() for c in cells) else None
            for cells in records
        )  # None: a blank line
        first_row = 2  # row 1 is the header
    entries: list[dict[str, str]] = []
    errors: dict[str, list[str]] = {}
    for number, row in enumerate(rows, start=first_row):
        if row is None:
            continue
        values = {k: str(row.get(k) or "").strip() for k in COLUMNS}
        problems = [
            f"{k}: must not contain NUL characters" for k, v in values.items() if "\x00" in v
        ]
        code_problem = validate_credit_code(values["credit_code"])
        if code_problem:
            problems.append(f"credit_code: {code_problem}")
        if values["list"] not in LISTS:
            problems.append(f"list: must be one of {', '.join(LISTS)}, got {values['list']!r}")
        if problems:
            errors[f"row {number}"] = problems
            continue
        values["credit_code"] = normalize_credit_code(values["credit_code"])
        entries.append(values)
    if errors:
        raise ValidationFailed(
            f"{filename}: {len(errors)} bad row(s); nothing was imported", errors=errors
        )
    return entries


def _json_rows(content: bytes | str, filename: str) -> list[dict[str, Any]]:
    try:
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1 if isinstance(content, bytes) else 0
        raise ValidationFailed(
            f"{filename} is not UTF-8 text (line {line}); save it as UTF-8",
            errors={"file": [f"Line {line}: not UTF-8 text."]},
        ) from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"{filename} is not valid JSON: {exc}", errors={"file": [str(exc)]}
        ) from exc
    except RecursionError as exc:
        raise ValidationFailed(
            f"{filename} is nested too deeply to be a watch list: a JSON list "
            f"of objects with keys {', '.join(COLUMNS)}",
            errors={"file": ["Nested too deeply."]},
        ) from exc
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise ValidationFailed(
            f"{filename} must hold a JSON list of objects with keys {', '.join(COLUMNS)}",
            errors={"file": ["Not a list of objects."]},
        )
    return raw


def import_watchlist(
    session: Session,
    entries: list[dict[str, str]],
    actor: Actor,
    *,
    source: str,
    lists: Iterable[str] | None = None,
) -> dict[str, int]:
    """Replace each list present in ``entries`` (or every list named in ``lists``) with
    ``entries``' rows, inside the caller's transaction; returns rows per list."""
    replaced = set(lists or ()) | {e["list"] for e in entries}
    now = clock.now()
    for name in sorted(replaced):
        session.execute(delete(WatchlistEntry).where(WatchlistEntry.list_name == name))
    for entry in entries:
        session.add(
            WatchlistEntry(
                list_name=entry["list"],
                credit_code=entry["credit_code"],
                name=entry["name"][:200],
                reason=entry["reason"][:500],
                source=source[:255],
                imported_at=now,
            )
        )
    counts = {name: 0 for name in sorted(replaced)} | dict(Counter(e["list"] for e in entries))
    session.flush()
    audit.record_event(
        session,
        AUDIT_STREAM,
        "watchlist.imported",
        actor,
        payload={"source": source[:255], "rows": counts},
    )
    return counts


def listings(session: Session, credit_code: str) -> list[WatchlistEntry]:
    """Every watch-list entry for ``credit_code``."""
    return list(
        session.execute(
            select(WatchlistEntry)
            .where(WatchlistEntry.credit_code == normalize_credit_code(credit_code))
            .order_by(WatchlistEntry.list_name, WatchlistEntry.id)
        ).scalars()
    )
