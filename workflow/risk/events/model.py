"""The tables of the living risk picture: risk events, system risk tags and the rating
history.

A risk event (风险事件) is a fact about a client that arrived from somewhere — the API,
a signed webhook batch, a data provider or a watch-list import — and is kept as a
record of its own, deduplicated by ``(source, external_id)``. Monitoring rules read
events and act on them; every change of a scoring fact re-runs the rule set and
appends a row to ``client_ratings``.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from typing import Any

from sqlalchemy import JSON, DateTime, Index, Numeric, String, Text, UniqueConstraint, text
from sqlalchemy.dialects.postgresql import JSONB
from sqlalchemy.orm import Mapped, mapped_column

from workflow.platform import clock
from workflow.platform.db import Base, BigId, JsonType

UNHANDLED_AS_NULL = JSON(none_as_null=True).with_variant(JSONB(none_as_null=True), "postgresql")

EVENT_TYPES = (
    "business_change",
    "negative_news",
    "litigation",
    "dishonest_debtor",
    "abnormal_operation",
    "payment_overdue",
    "watchlist_hit",
    "administrative_penalty",
    "equity_freeze",
    "tax_violation",
    "other",
)


class RiskEvent(Base):
    """One risk event of one client; never two for one ``(source, external_id)``."""

    __tablename__ = "risk_events"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_risk_events_client_type_time", "client_id", "type", "occurred_at"),
        Index("ix_risk_events_received", "received_at"),
        # the events the monitoring rules have not handled yet (the sweep's query)
        Index(
            "ix_risk_events_unhandled",
            "id",
            postgresql_where=text("outcome IS NULL"),
            sqlite_where=text("outcome IS NULL"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(BigId)
    type: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="")
    keywords: Mapped[list[str]] = mapped_column(JsonType, default=list)
    # Structured extras (amount, court, case number, list name, match path ...).
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    occurred_at: Mapped[datetime] = mapped_column(DateTime)
    received_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    recorded_by: Mapped[str] = mapped_column(String(96))
    # What the monitoring rules did with it: {rule_set, fired: [{rule, actions}], errors,
    # rating}. SQL NULL until they ran — also when a writer sets None (not JSON null), so
    # the monitoring sweep finds every row not handled yet.
    outcome: Mapped[dict[str, Any] | None] = mapped_column(UNHANDLED_AS_NULL)


class ClientTag(Base):
    """A system risk tag on a client, added by a monitoring rule (apart from the manual,
    free-text ``clients.tags``). A tag is current while ``expires_at`` is empty or
    later than now; re-adding a current tag extends it rather than adding a row."""

    __tablename__ = "client_tags"
    __table_args__ = (Index("ix_client_tags_client", "client_id", "tag"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(BigId)
    tag: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(String(96))  # e.g. "rule:dishonest_debtor_black"
    event_id: Mapped[int | None] = mapped_column(BigId)
    since: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime | None] = mapped_column(DateTime)


class RatingRecord(Base):
    """One evaluation of a client by the active rule set: what it gave, why, and what
    became of it (``applied`` at once, ``proposed`` through a dual approval, or
    ``unchanged``)."""

    __tablename__ = "client_ratings"
    __table_args__ = (Index("ix_client_ratings_client_time", "client_id", "rated_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(BigId)
    rating: Mapped[str] = mapped_column(String(1))
    risk_score: Mapped[Decimal] = mapped_column(Numeric(5, 1))
    risk_level: Mapped[str] = mapped_column(String(8))
    credit_limit: Mapped[Decimal | None] = mapped_column(Numeric(20, 2))
    previous: Mapped[dict[str, Any] | None] = mapped_column(JsonType)
    # Why: the rules that fired, the indicator scores, the facts' digest.
    reasons: Mapped[list[Any]] = mapped_column(JsonType, default=list)
    rule_set_version: Mapped[str] = mapped_column(String(64), default="")
    trigger: Mapped[str] = mapped_column(
        String(64)
    )  # screening | event:<id> | change_request:<id> | ...
    outcome: Mapped[str] = mapped_column(String(16))  # applied | proposed | unchanged
    change_request_id: Mapped[int | None] = mapped_column(BigId)
    rated_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
