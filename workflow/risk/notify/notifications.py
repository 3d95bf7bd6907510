"""A user's in-app notifications (alerts, breaches, digests): list, unread count, mark read."""

from __future__ import annotations

from sqlalchemy import func, select, update
from sqlalchemy.orm import Session

from workflow.errors import NotFound
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.records.models import Notification


def unread_count(session: Session, username: str) -> int:
    return int(
        session.execute(
            select(func.count())
            .select_from(Notification)
            .where(Notification.username == username, Notification.read_at.is_(None))
        ).scalar_one()
    )


def list_notifications(
    session: Session,
    actor: Actor,
    *,
    unread: bool = False,
    limit: int = 50,
    before_id: int | None = None,
) -> tuple[list[Notification], bool]:
    """The actor's notifications, newest first; returns (page, more)."""
    stmt = select(Notification).where(Notification.username == actor.username)
    if unread:
        stmt = stmt.where(Notification.read_at.is_(None))
    if before_id is not None:
        stmt = stmt.where(Notification.id < before_id)
    rows = list(session.execute(stmt.order_by(Notification.id.desc()).limit(limit + 1)).scalars())
    return rows[:limit], len(rows) > limit


def own_notification(session: Session, actor: Actor, notification_id: int) -> Notification:
    """Raises:
    NotFound: no such notification for this user (others' are never revealed)."""
    note = session.get(Notification, notification_id) if 0 < notification_id < 2**63 else None
    if note is None or note.username != actor.username:
        raise NotFound(f"notification {notification_id} does not exist")
    return note


def mark_read(session: Session, actor: Actor, notification_id: int) -> Notification:
    """Raises:
    NotFound: no such notification for this user (others' are never revealed)."""
    note = own_notification(session, actor, notification_id)
    if note.read_at is None:
        note.read_at = clock.now()
    return note


def mark_all_read(session: Session, actor: Actor) -> int:
    result = session.execute(
        update(Notification)
        .where(Notification.username == actor.username, Notification.read_at.is_(None))
        .values(read_at=clock.now())
    )
    return int(getattr(result, "rowcount", 0) or 0)
