"""Versions of governed configuration (rule sets, monitoring rules, routing, checklists).

Each kind of configuration has numbered versions in ``config_versions``; exactly one is
``active``, the older ones ``superseded``. Versions are assigned here, never taken from
the caller: the next version of a kind is one above its highest. A version's identity is
its ``content_hash``, the SHA-256 of the canonical JSON of the parsed document (sorted
keys, no spaces, UTF-8), so a comment or an indentation change is no new content.

Readers keep what they parsed from the active version in a per-process cache, one per
database engine. It asks the database for a cheap generation marker (the highest version
row id: every activation inserts a row) at most every :data:`CHECK_SECONDS`; a new
marker drops what was parsed, so an activation reaches every process (web workers,
Dramatiq workers, schedulers) within seconds without a message, and a process that
missed none cannot miss it. A commit that activated a version drops this process's
cache at once.
"""

from __future__ import annotations

import hashlib
import json
import threading
import time
import weakref
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, TypeVar

from sqlalchemy import DateTime, Integer, String, Text, UniqueConstraint, event, func, select
from sqlalchemy.engine import Engine
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflow.errors import Conflict
from workflow.platform import clock
from workflow.platform.db import Base, BigId

ACTIVE = "active"
SUPERSEDED = "superseded"
CHECK_SECONDS = 2.0
_CHANGED = "riskloop.config_changed"
T = TypeVar("T")


class ConfigVersion(Base):
    """One version of one kind of governed configuration, as it was approved."""

    __tablename__ = "config_versions"
    __table_args__ = (UniqueConstraint("kind", "version", name="uq_config_versions_kind_version"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(64), index=True)
    version: Mapped[int] = mapped_column(Integer)
    content: Mapped[str] = mapped_column(Text)
    content_hash: Mapped[str] = mapped_column(String(64))
    status: Mapped[str] = mapped_column(String(16), default=ACTIVE)
    created_by: Mapped[str] = mapped_column(String(64))
    approved_by: Mapped[str | None] = mapped_column(String(64))
    # The config_change instance that published it (None: seeded from a shipped file).
    change_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    activated_at: Mapped[datetime | None] = mapped_column(DateTime)


def canonical_hash(document: Any) -> str:
    """SHA-256 (hex) of ``document`` as canonical JSON."""
    text = json.dumps(document, sort_keys=True, separators=(",", ":"), ensure_ascii=False)
    return hashlib.sha256(text.encode("utf-8")).hexdigest()


def active(session: Session, kind: str, *, lock: bool = False) -> ConfigVersion | None:
    """The active version of ``kind`` (locked for update when ``lock``), None before seeding."""
    query = select(ConfigVersion).where(ConfigVersion.kind == kind, ConfigVersion.status == ACTIVE)
    if lock:
        query = query.with_for_update()
    return session.execute(query).scalar_one_or_none()


def get_version(session: Session, kind: str, version: int) -> ConfigVersion | None:
    return session.execute(
        select(ConfigVersion).where(ConfigVersion.kind == kind, ConfigVersion.version == version)
    ).scalar_one_or_none()


def highest_version(session: Session, kind: str) -> int:
    """The highest version of ``kind`` stored (0: none)."""
    return int(
        session.execute(
            select(func.coalesce(func.max(ConfigVersion.version), 0)).where(
                ConfigVersion.kind == kind
            )
        ).scalar_one()
    )


def history(session: Session, kind: str) -> list[ConfigVersion]:
    return list(
        session.execute(
            select(ConfigVersion)
            .where(ConfigVersion.kind == kind)
            .order_by(ConfigVersion.version.desc())
        ).scalars()
    )


def activate(
    session: Session,
    kind: str,
    version: int,
    content: str,
    content_hash: str,
    *,
    created_by: str,
    approved_by: str | None,
    change_id: int | None = None,
    seeded: bool = False,
    after: int | None = None,
) -> tuple[ConfigVersion | None, ConfigVersion]:
    """Make ``content`` version ``version`` of ``kind`` and the active one; returns the
    version it supersedes (None for the first) and the new one. The caller commits.

    ``version`` must be one above the highest stored: a draft made against an older
    active version is refused, so two drafts approved one after the other (or at once)
    never silently undo each other. A version seeded from a shipped file keeps the number
    the file declares, which only has to be above every stored one (and, with ``after``,
    the highest stored must still be ``after``: a shipped file proposed against version
    ``after`` never undoes a change approved since).

    Raises:
        Conflict: another version of ``kind`` was activated since the draft was made.
    """
    old = active(session, kind, lock=True)
    highest = highest_version(session, kind)
    stale = (
        version <= highest or (after is not None and highest != after)
        if seeded
        else version != highest + 1
    )
    if stale:
        raise Conflict(
            f"{kind} is at version {highest} now, and this change was drafted as version "
            f"{version}; draft the change again against the active version",
            code="config.stale_draft",
            params={"kind": kind, "active_version": highest, "draft_version": version},
        )
    now = clock.now()
    if old is not None:
        old.status = SUPERSEDED
        session.flush()
    new = ConfigVersion(
        kind=kind,
        version=version,
        content=content,
        content_hash=content_hash,
        status=ACTIVE,
        created_by=created_by,
        approved_by=approved_by,
        change_id=change_id,
        created_at=now,
        activated_at=now,
    )
    session.add(new)
    session.flush()  # a racing activation of the same version fails here (unique key)
    session.info[_CHANGED] = True
    return old, new


def generation(session: Session) -> int:
    """The marker every activation moves: the highest version row id."""
    return int(session.execute(select(func.coalesce(func.max(ConfigVersion.id), 0))).scalar_one())


@dataclass
class _EngineCache:
    lock: threading.Lock = field(default_factory=threading.Lock)
    marker: int | None = None
    checked_at: float = float("-inf")
    entries: dict[str, tuple[int | None, Any]] = field(default_factory=dict)


_caches: weakref.WeakKeyDictionary[Engine, _EngineCache] = weakref.WeakKeyDictionary()
_caches_lock = threading.Lock()


def _cache_for(session: Session) -> _EngineCache:
    bind = session.get_bind()
    engine = bind if isinstance(bind, Engine) else bind.engine
    with _caches_lock:
        cache = _caches.get(engine)
        if cache is None:
            cache = _caches[engine] = _EngineCache()
        return cache


def read_active(
    session: Session,
    kind: str,
    parse: Callable[[ConfigVersion], T],
    fallback: Callable[[], T],
) -> T:
    """What ``parse`` makes of the active version of ``kind`` (``fallback()`` while none is
    stored), parsed once per process and version, rechecked every few seconds."""
    cache = _cache_for(session)
    now = time.monotonic()
    with cache.lock:
        stale = now - cache.checked_at >= CHECK_SECONDS
    if stale:
        marker = generation(session)
        with cache.lock:
            if marker != cache.marker:
                cache.entries.clear()
                cache.marker = marker
            cache.checked_at = now
    with cache.lock:
        entry = cache.entries.get(kind)
    if entry is not None:
        return entry[1]  # type: ignore[no-any-return]
    row = active(session, kind)
    value = fallback() if row is None else parse(row)
    with cache.lock:
        cache.entries[kind] = (None if row is None else row.id, value)
    return value


def forget(session: Session) -> None:
    """Drop this process's cache for the session's database (the next read checks)."""
    cache = _cache_for(session)
    with cache.lock:
        cache.entries.clear()
        cache.marker = None
        cache.checked_at = float("-inf")


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    if session.info.pop(_CHANGED, False):
        forget(session)


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_CHANGED, None)
