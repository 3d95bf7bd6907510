"""Running a command as one transaction, retried when two writers met."""

from __future__ import annotations

import logging
from collections.abc import Callable
from typing import TypeVar

from sqlalchemy.exc import IntegrityError, OperationalError
from sqlalchemy.orm import Session

from workflow.errors import Conflict

log = logging.getLogger(__name__)
T = TypeVar("T")

# PostgreSQL's serialization failure and deadlock: safe to run the command again.
_RETRYABLE_PG = {"40001", "40P01"}


def transact(
    session: Session, command: Callable[[], T], *, retries: int = 3, keep_loaded: bool = False
) -> T:
    """Run ``command`` and commit; roll back on any error.

    ``keep_loaded`` keeps the objects the command touched usable after commit
    without reloading them (the caller knows they are current: it just wrote them).

    A unique-key race (two first writers of an idempotency key or an audit
    stream head) is retried, so the loser sees the winner's row the second time.

    Raises:
        Conflict: the race persisted after ``retries`` attempts.
    """
    for attempt in range(1, retries + 1):
        try:
            result = command()
            _commit(session, keep_loaded)
            return result
        except IntegrityError as exc:
            session.rollback()
            if attempt == retries:
                raise Conflict(
                    "a concurrent request changed the same record; try again", code="race"
                ) from exc
            log.info("integrity race, retrying (attempt %d)", attempt)
        except OperationalError as exc:
            session.rollback()
            code = getattr(getattr(exc, "orig", None), "sqlstate", None)
            if code not in _RETRYABLE_PG or attempt == retries:
                raise
        except BaseException:
            session.rollback()
            raise
    raise AssertionError("unreachable")


def _commit(session: Session, keep_loaded: bool) -> None:
    if not keep_loaded:
        session.commit()
        return
    # A scoped session (Flask-SQLAlchemy's) is called to reach the real one.
    real = session() if callable(session) else session
    previous = real.expire_on_commit
    real.expire_on_commit = False
    try:
        real.commit()
    finally:
        real.expire_on_commit = previous
