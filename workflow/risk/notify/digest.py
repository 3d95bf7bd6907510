"""The nightly alert digest: at ``digest_at`` of the active ``alert_routing`` version
(governed configuration; while a version lacks it, ``RISKLOOP_DIGEST_AT``, 21:00 unless
configured) in ``RISKLOOP_TIMEZONE`` each owner gets one message listing the alerts new to them and
those that breached an SLA since their last digest, with each alert's client by name and
its case's state (worded in the reader's language: in the console at display time, by
mail in the recipient's language).

Exactly once per day: the job's timer row is keyed by its due time (two schedulers
arm and claim it once), and each owner's digest is a row unique per local day, so
even a second run of the job (a restart at 21:00) sends nothing twice. A newly
activated ``digest_at`` moves the armed timer at the scheduler's next pass (see
:func:`workflow.background.scheduler.ensure_jobs`), in every process without restart.
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

from sqlalchemy import DateTime, Integer, String, UniqueConstraint, func, or_, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflow import texts
from workflow.engine import runtime
from workflow.engine.registry import Registry
from workflow.errors import ConfigurationError
from workflow.platform import clock
from workflow.platform.db import Base, BigId
from workflow.records.models import WorkflowInstance
from workflow.records.outbox import enqueue
from workflow.risk.alerts.intake import DEFINITION, Alert, AlertOwner
from workflow.risk.clients.model import Client
from workflow.risk.governance.overlay import governed_settings

registry = Registry()

log = logging.getLogger(__name__)

FIRST_WINDOW = timedelta(days=1)
ROUTING_KIND = "alert_routing"  # its active version's ``digest_at`` sets the hour


class AlertDigest(Base):
    """One owner's digest of one local day (the unique key makes it once a day)."""

    __tablename__ = "alert_digests"
    __table_args__ = (UniqueConstraint("username", "day"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    day: Mapped[str] = mapped_column(String(10))
    covers_from: Mapped[datetime] = mapped_column(DateTime)
    covers_to: Mapped[datetime] = mapped_column(DateTime)
    new_count: Mapped[int] = mapped_column(Integer, default=0)
    breached_count: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


def local_day(at: datetime, timezone: str) -> str:
    return at.replace(tzinfo=UTC).astimezone(ZoneInfo(timezone)).date().isoformat()


def digest_cron(settings: Mapping[str, Any], session: Session | None = None) -> str:
    """The crontab of the digest: ``digest_at`` of the active ``alert_routing`` version
    (read with ``session``), else ``RISKLOOP_DIGEST_AT`` (``HH:MM``, default 21:00).

    Raises:
        ConfigurationError: the setting is not a time of day.
    """
    governed = None
    if session is not None:
        # the same parse (and per-process cache entry) as every reader of the kind
        governed = governed_settings(session, ROUTING_KIND, {}).get("digest_at")
    value = str(governed or settings.get("RISKLOOP_DIGEST_AT") or "21:00").strip()
    hour, sep, minute = value.partition(":")
    if not (sep and hour.isdigit() and minute.isdigit() and int(hour) < 24 and int(minute) < 60):
        raise ConfigurationError(
            f"RISKLOOP_DIGEST_AT={value!r} is not a time of day; write HH:MM (24-hour, in "
            "RISKLOOP_TIMEZONE), e.g. RISKLOOP_DIGEST_AT=21:00"
        )
    return f"{int(minute)} {int(hour)} * * *"


@registry.job("alert_digest", digest_cron)
def alert_digest(session: Session, now: datetime, args: dict[str, Any] | None = None) -> None:
    """Queue one digest message per owner with anything new or breached; returns nothing."""
    send_digests(session, now)


def send_digests(session: Session, now: datetime) -> list[str]:
    """Write and queue today's digests; returns the owners who got one."""
    timezone = str(runtime.of(session).setting("RISKLOOP_TIMEZONE", "Asia/Shanghai"))
    day = local_day(now, timezone)
    last = dict(
        session.execute(
            select(AlertDigest.username, func.max(AlertDigest.covers_to)).group_by(
                AlertDigest.username
            )
        ).all()
    )
    default_since = now - FIRST_WINDOW
    earliest = min([default_since, *last.values()])
    rows = session.execute(
        select(AlertOwner.username, Alert, WorkflowInstance.state, Client.name)
        .join(Alert, Alert.id == AlertOwner.alert_id)
        .join(WorkflowInstance, WorkflowInstance.id == Alert.instance_id)
        .join(Client, Client.id == Alert.client_id)
        .where(or_(Alert.created_at >= earliest, Alert.last_breached_at >= earliest))
        .order_by(AlertOwner.username, Alert.id)
    ).all()
    by_owner: dict[str, list[Item]] = {}
    for username, alert, state, client_name in rows:
        by_owner.setdefault(username, []).append((alert, state, client_name))
    sent: list[str] = []
    for username, items in by_owner.items():
        since = last.get(username, default_since)
        # Each digest covers (its predecessor's end, now]: nothing is listed twice or missed.
        coded = record_digest(session, username, day, since, now, items)
        if coded is None:
            continue
        enqueue(session, "notify", {"event": "alert_digest", "users": [username], **coded})
        sent.append(username)
    log.info("alert digest %s: %d owner(s)", day, len(sent))
    return sent


Item = tuple[Alert, str, str]  # an alert, its case's state, its client's name


def record_digest(
    session: Session, name: str, day: str, since: datetime, now: datetime, items: list[Item]
) -> dict[str, Any] | None:
    """Record the digest of ``name`` (an owner, or ``robot:<channel>``) for ``day`` over
    (``since``, ``now``] and return the ``notify`` texts listing ``items`` new or breached
    in it; None when nothing is new or breached, or that digest of the day exists."""
    # Each digest covers (its predecessor's end, now]: nothing is listed twice or missed.
    new = [item for item in items if since < item[0].created_at <= now]
    breached = [
        item
        for item in items
        if item[0].last_breached_at is not None and since < item[0].last_breached_at <= now
    ]
    if not new and not breached:
        return None
    try:
        with session.begin_nested():
            session.add(
                AlertDigest(
                    username=name,
                    day=day,
                    covers_from=since,
                    covers_to=now,
                    new_count=len(new),
                    breached_count=len(breached),
                    created_at=now,
                )
            )
    except IntegrityError:  # this digest of the day exists: never twice
        return None
    return texts.notification(
        "digest.sent",
        day=day,
        new_count=len(new),
        breached_count=len(breached),
        new=listed(new),
        breached=listed(breached),
        definition=DEFINITION,
    )


def listed(items: list[Item]) -> list[dict[str, Any]]:
    """The digest's lines as params: each alert with its client's name and its case's state."""
    return [
        {
            "level": a.level,
            "id": a.id,
            "title": a.title,
            "client": a.client_id,
            "client_name": name,
            "state": s,
            "case": a.instance_id,
        }
        for a, s, name in items
    ]
