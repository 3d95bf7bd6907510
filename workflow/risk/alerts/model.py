"""The alert tables: one row per alert (deduplicated by source and external id) and its
owners (the routing result)."""

from __future__ import annotations

from datetime import datetime

from sqlalchemy import DateTime, ForeignKey, Index, Integer, String, Text, UniqueConstraint
from sqlalchemy.orm import Mapped, mapped_column

from workflow.platform import clock
from workflow.platform.db import Base, BigId


class Alert(Base):
    """One alert and the remediation instance it started (never two for one source id)."""

    __tablename__ = "alerts"
    __table_args__ = (
        UniqueConstraint("source", "external_id"),
        Index("ix_alerts_client", "client_id", "level"),
        Index("ix_alerts_created", "created_at"),
        Index("ix_alerts_breached_at", "last_breached_at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int | None] = mapped_column(BigId, unique=True)
    client_id: Mapped[int] = mapped_column(BigId)
    level: Mapped[str] = mapped_column(String(8))
    category: Mapped[str] = mapped_column(String(32))
    title: Mapped[str] = mapped_column(String(200))
    details: Mapped[str] = mapped_column(Text, default="")
    source: Mapped[str] = mapped_column(String(64))
    external_id: Mapped[str] = mapped_column(String(128))
    raised_by: Mapped[str] = mapped_column(String(96))
    breaches: Mapped[int] = mapped_column(Integer, default=0)
    last_breached_at: Mapped[datetime | None] = mapped_column(DateTime)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class AlertOwner(Base):
    """An owner of an alert (routing result): listed, filtered and sent the digest."""

    __tablename__ = "alert_owners"

    alert_id: Mapped[int] = mapped_column(
        ForeignKey("alerts.id", ondelete="CASCADE"), primary_key=True
    )
    username: Mapped[str] = mapped_column(String(64), primary_key=True, index=True)
