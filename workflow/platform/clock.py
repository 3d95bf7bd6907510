"""The engine's clock: naive UTC datetimes, freezable for tests of SLAs and timers."""

from __future__ import annotations

import threading
import time
from datetime import UTC, datetime, timedelta

_lock = threading.Lock()
_frozen: datetime | None = None
_EPOCH = datetime(1970, 1, 1)


def now() -> datetime:
    """Current time as a naive UTC datetime (how every timestamp is stored)."""
    if _frozen is not None:
        return _frozen
    return naive_utc(time.time_ns())


def naive_utc(ns: int) -> datetime:
    """``ns`` nanoseconds after the epoch as naive UTC, floored to the microsecond as
    ``datetime.now`` floors: the value of ``datetime.now(UTC)`` without its tzinfo, in a
    third of its time (an approve asks the clock several times)."""
    return _EPOCH + timedelta(0, 0, ns // 1000)


def freeze(at: datetime | None) -> None:
    """Pin the clock at ``at`` (naive UTC); ``None`` lets it run again."""
    global _frozen
    with _lock:
        _frozen = (
            at.replace(tzinfo=None)
            if at is not None and at.tzinfo is None
            else (at.astimezone(UTC).replace(tzinfo=None) if at is not None else None)
        )


def advance(delta: timedelta) -> datetime:
    """Move a frozen clock forward; freezes the clock at now+delta if it was running."""
    freeze(now() + delta)
    return now()


def isoformat(at: datetime | None) -> str | None:
    """Canonical UTC text of a stored datetime, as hashed into the audit chain."""
    if at is None:
        return None
    return at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")
