"""Failed sign-ins, throttled per source address first and per account second.

:data:`LOCK_AFTER` failures under one username from one address lock that address out
of that username for :data:`LOCK_FOR` (the right password included); other addresses
are not affected, so an attacker's address cannot lock the account's owner out.
:data:`ACCOUNT_LOCK_AFTER` failures from all addresses together within :data:`LOCK_FOR`
(several addresses at once, as in a distributed guessing attack) lock the username for
every address until those failures are :data:`LOCK_FOR` old. Attempts refused by a
lock are not counted, so no address can keep an account locked by trying on, and a
quiet period of :data:`LOCK_FOR` forgets an address's count. A username no user has is
counted the same way (no user row is needed), so lockout does not tell which accounts
exist. The per-address rate limit of the API and console sign-in bounds how fast one
address may try at all.
"""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import delete, func, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from workflow.platform import clock
from workflow.records.models import LoginFailure

LOCK_AFTER = 5
ACCOUNT_LOCK_AFTER = 25
LOCK_FOR = timedelta(minutes=15)
UNKNOWN_SOURCE = "unknown"


def _key(username: str, source: str | None) -> tuple[str, str]:
    return username[:64], (source or UNKNOWN_SOURCE)[:64]


def _row(session: Session, username: str, source: str | None) -> LoginFailure | None:
    name, address = _key(username, source)
    query = select(LoginFailure).where(
        LoginFailure.username == name, LoginFailure.source == address
    )
    return session.execute(query.with_for_update()).scalar_one_or_none()


def retry_after(session: Session, username: str, source: str | None, now: datetime) -> int | None:
    """Seconds before ``source`` may try ``username`` again, or None when it may now."""
    row = _row(session, username, source)
    since = now - LOCK_FOR
    if row is not None and row.last_failed_at <= since:
        row.failed_logins = 0  # quiet for a lock period (a lock run out, too): a fresh count
        row.locked_until = None
    if row is not None and row.locked_until is not None and row.locked_until > now:
        return _seconds(row.locked_until - now)
    total, newest = session.execute(
        select(
            func.coalesce(func.sum(LoginFailure.failed_logins), 0),
            func.max(LoginFailure.last_failed_at),
        ).where(
            LoginFailure.username == _key(username, source)[0], LoginFailure.last_failed_at > since
        )
    ).one()
    if total >= ACCOUNT_LOCK_AFTER:
        return _seconds(newest + LOCK_FOR - now)
    return None


def record_failure(session: Session, username: str, source: str | None, now: datetime) -> int:
    """Count one failure of ``source`` under ``username``; returns the address's count."""
    row = _row(session, username, source)
    if row is None:
        name, address = _key(username, source)
        try:
            with session.begin_nested():
                row = LoginFailure(
                    username=name, source=address, failed_logins=0, last_failed_at=now
                )
                session.add(row)
        except IntegrityError:  # a concurrent attempt created it first
            row = _row(session, username, source)
            assert row is not None
    row.failed_logins = (row.failed_logins or 0) + 1
    row.last_failed_at = now
    if row.failed_logins >= LOCK_AFTER:
        row.locked_until = now + LOCK_FOR
    return row.failed_logins


def clear(session: Session, username: str, source: str | None) -> None:
    """A successful sign-in forgets its own address's failures (not other addresses')."""
    name, address = _key(username, source)
    session.execute(
        delete(LoginFailure).where(LoginFailure.username == name, LoginFailure.source == address)
    )


def forget_username(session: Session, username: str) -> None:
    """A new user starts with no failures recorded under its name before it existed."""
    session.execute(delete(LoginFailure).where(LoginFailure.username == username[:64]))


def prune(session: Session, now: datetime | None = None) -> int:
    """Forget failure counts that are neither locked nor recent (older than a lock
    period); returns how many were removed."""
    now = now or clock.now()
    result = session.execute(
        delete(LoginFailure).where(
            LoginFailure.last_failed_at < now - LOCK_FOR,
            (LoginFailure.locked_until.is_(None)) | (LoginFailure.locked_until < now),
        )
    )
    return int(getattr(result, "rowcount", 0) or 0)


def _seconds(delta: timedelta) -> int:
    return max(1, int(delta.total_seconds()))
