"""The engine's tables: users, tokens, instances, audit, outbox, timers, incidents."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy import (
    Boolean,
    DateTime,
    ForeignKey,
    Index,
    Integer,
    String,
    Text,
    UniqueConstraint,
    text,
)
from sqlalchemy.orm import Mapped, mapped_column

from workflow.platform import clock
from workflow.platform.db import Base, BigId, JsonType


class User(Base):
    """A person who signs in; may hold several roles."""

    __tablename__ = "users"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    username: Mapped[str] = mapped_column(String(64), unique=True)
    display_name: Mapped[str] = mapped_column(String(128), default="")
    email: Mapped[str | None] = mapped_column(String(254))
    password_hash: Mapped[str] = mapped_column(String(255))
    roles: Mapped[list[str]] = mapped_column(JsonType, default=list)
    active: Mapped[bool] = mapped_column(Boolean, default=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    # Kept in each console session cookie; raising it ends every console session of the
    # user (sign-out, deactivation, a change of roles).
    session_epoch: Mapped[int] = mapped_column(Integer, default=0, server_default=text("0"))
    # The language chosen in the console (``zh-CN``/``en``): mail to the user is worded in
    # it; None until the user picks one (then ``RISKLOOP_LANGUAGE``).
    language: Mapped[str | None] = mapped_column(String(8))


class LoginFailure(Base):
    """Failed sign-ins under one username from one source address, for every username
    alike (one that no user has too, so lockout does not tell which accounts exist)."""

    __tablename__ = "login_failures"

    username: Mapped[str] = mapped_column(String(64), primary_key=True)
    source: Mapped[str] = mapped_column(String(64), primary_key=True)
    failed_logins: Mapped[int] = mapped_column(Integer, default=0)
    locked_until: Mapped[datetime | None] = mapped_column(DateTime)
    last_failed_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class Token(Base):
    """A bearer token; only its SHA-256 is stored so a database leak reveals none."""

    __tablename__ = "tokens"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    token_hash: Mapped[str] = mapped_column(String(64), unique=True)
    user_id: Mapped[int] = mapped_column(ForeignKey("users.id", ondelete="CASCADE"), index=True)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    expires_at: Mapped[datetime] = mapped_column(DateTime)
    revoked: Mapped[bool] = mapped_column(Boolean, default=False)


class DefinitionRecord(Base):
    """A loaded definition version and its source, kept for instances started on it."""

    __tablename__ = "definitions"
    __table_args__ = (UniqueConstraint("name", "version"),)

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    name: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer)
    content_hash: Mapped[str] = mapped_column(String(64))
    source: Mapped[str] = mapped_column(Text)
    loaded_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class WorkflowInstance(Base):
    """One running or finished case of a workflow definition.

    ``audit_seq``/``audit_hash`` are the head of the instance's audit chain: the
    row lock taken to fire a transition also serialises its chain, so different
    instances never wait for each other.
    """

    __tablename__ = "workflow_instances"
    __table_args__ = (
        Index("ix_workflow_instances_subject", "subject_type", "subject_id"),
        Index("ix_workflow_instances_def_state", "definition", "state"),
        Index(
            "ix_workflow_instances_open_due",
            "sla_due_at",
            "id",
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
        # The inbox: open cases of one (definition, version, state) in its order (due
        # time, then id), so each actionable state is read with an early stop.
        Index(
            "ix_workflow_instances_open_state_due",
            "definition",
            "definition_version",
            "state",
            "sla_due_at",
            "id",
            postgresql_where=text("is_open"),
            sqlite_where=text("is_open"),
        ),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    definition: Mapped[str] = mapped_column(String(64))
    definition_version: Mapped[int] = mapped_column(Integer)
    state: Mapped[str] = mapped_column(String(64))
    version: Mapped[int] = mapped_column(Integer, default=1)
    is_open: Mapped[bool] = mapped_column(Boolean, default=True)
    subject_type: Mapped[str | None] = mapped_column(String(32))
    subject_id: Mapped[int | None] = mapped_column(BigId)
    parent_id: Mapped[int | None] = mapped_column(BigId, index=True)
    created_by: Mapped[str] = mapped_column(String(64))
    assignees: Mapped[list[str]] = mapped_column(JsonType, default=list)
    data: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    sla_due_at: Mapped[datetime | None] = mapped_column(DateTime)
    breached: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    updated_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    state_entered_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_hash: Mapped[str] = mapped_column(String(64), default="")


class AuditStream(Base):
    """Chain head of a stream that is not a workflow instance (a client, a user, the system)."""

    __tablename__ = "audit_streams"

    stream: Mapped[str] = mapped_column(String(96), primary_key=True)
    audit_seq: Mapped[int] = mapped_column(Integer, default=0)
    audit_hash: Mapped[str] = mapped_column(String(64), default="")


class AuditRecord(Base):
    """One append-only, hash-chained audit record; never updated or deleted."""

    __tablename__ = "audit_records"
    __table_args__ = (
        UniqueConstraint("stream", "seq"),
        Index("ix_audit_records_instance", "instance_id", "seq"),
        Index("ix_audit_records_at", "at"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    stream: Mapped[str] = mapped_column(String(96))
    seq: Mapped[int] = mapped_column(Integer)
    kind: Mapped[str] = mapped_column(String(48))
    instance_id: Mapped[int | None] = mapped_column(BigId)
    subject: Mapped[str | None] = mapped_column(String(96))
    definition: Mapped[str | None] = mapped_column(String(64))
    definition_version: Mapped[int | None] = mapped_column(Integer)
    trigger: Mapped[str | None] = mapped_column(String(64))
    from_state: Mapped[str | None] = mapped_column(String(64))
    to_state: Mapped[str | None] = mapped_column(String(64))
    actor: Mapped[str] = mapped_column(String(96), index=True)
    roles: Mapped[list[str]] = mapped_column(JsonType, default=list)
    at: Mapped[datetime] = mapped_column(DateTime)
    comment: Mapped[str | None] = mapped_column(Text)
    payload: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    request_id: Mapped[str | None] = mapped_column(String(64))
    idempotency_key: Mapped[str | None] = mapped_column(String(128))
    prev_hash: Mapped[str] = mapped_column(String(64))
    hash: Mapped[str] = mapped_column(String(64))


class OutboxMessage(Base):
    """A background task written in the same transaction as the change that asked for it."""

    __tablename__ = "outbox"
    __table_args__ = (Index("ix_outbox_status_created", "status", "created_at"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    task: Mapped[str] = mapped_column(String(64))
    args: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    instance_id: Mapped[int | None] = mapped_column(BigId, index=True)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    sent_at: Mapped[datetime | None] = mapped_column(DateTime)
    done_at: Mapped[datetime | None] = mapped_column(DateTime)
    last_error: Mapped[str | None] = mapped_column(Text)


class Timer(Base):
    """A durable timer: an SLA escalation, an expiry, or a cron-like job's next run."""

    __tablename__ = "timers"
    __table_args__ = (
        Index("ix_timers_status_due", "status", "due_at"),
        UniqueConstraint("key"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    kind: Mapped[str] = mapped_column(String(16), default="transition")
    instance_id: Mapped[int | None] = mapped_column(BigId, index=True)
    state: Mapped[str | None] = mapped_column(String(64))
    trigger: Mapped[str | None] = mapped_column(String(64))
    job: Mapped[str | None] = mapped_column(String(64))
    args: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    key: Mapped[str | None] = mapped_column(String(160))
    due_at: Mapped[datetime] = mapped_column(DateTime)
    status: Mapped[str] = mapped_column(String(16), default="pending")
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    fired_at: Mapped[datetime | None] = mapped_column(DateTime)


class IdempotencyRecord(Base):
    """The first result of a request made with an ``Idempotency-Key``."""

    __tablename__ = "idempotency_keys"

    actor: Mapped[str] = mapped_column(String(96), primary_key=True)
    key: Mapped[str] = mapped_column(String(128), primary_key=True)
    instance_id: Mapped[int] = mapped_column(BigId)
    trigger: Mapped[str] = mapped_column(String(64))
    result: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class Incident(Base):
    """A background task that kept failing, made visible on its case."""

    __tablename__ = "incidents"

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    instance_id: Mapped[int | None] = mapped_column(BigId, index=True)
    outbox_id: Mapped[int | None] = mapped_column(BigId)
    task: Mapped[str] = mapped_column(String(64))
    error: Mapped[str] = mapped_column(Text)
    attempts: Mapped[int] = mapped_column(Integer, default=0)
    resolved: Mapped[bool] = mapped_column(Boolean, default=False)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class Notification(Base):
    """An in-app notification for one user (e-mail and webhooks are sent besides)."""

    __tablename__ = "notifications"
    __table_args__ = (
        Index("ix_notifications_user_read", "username", "read_at"),
        UniqueConstraint("outbox_id", "username"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    username: Mapped[str] = mapped_column(String(64))
    event: Mapped[str] = mapped_column(String(48))
    title: Mapped[str] = mapped_column(String(255))
    body: Mapped[str] = mapped_column(Text, default="")
    instance_id: Mapped[int | None] = mapped_column(BigId)
    outbox_id: Mapped[int | None] = mapped_column(BigId)
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    read_at: Mapped[datetime | None] = mapped_column(DateTime)
    # What the title and body say, as a code of workflow.texts and its params, worded in
    # the reader's language by the console; None on rows written before codes existed.
    code: Mapped[str | None] = mapped_column(String(64))
    params: Mapped[dict[str, Any] | None] = mapped_column(JsonType)


class DefinitionMigration(Base):
    """Open instances of one definition moved to another version (``workflow.engine.migration``):
    who, when, to which version and with which state map; its items keep each instance's
    before-image so the move can be reverted."""

    __tablename__ = "definition_migrations"
    __table_args__ = (
        # one unfinished migration per definition: a second admin racing gets a refusal
        Index(
            "uq_definition_migrations_running",
            "definition",
            unique=True,
            postgresql_where=text("status = 'running'"),
            sqlite_where=text("status = 'running'"),
        ),
    )

    id: Mapped[int] = mapped_column(Integer, primary_key=True)
    definition: Mapped[str] = mapped_column(String(64))
    # The versions the moved instances came from (several when older versions coexist).
    from_versions: Mapped[list[int]] = mapped_column(JsonType, default=list)
    to_version: Mapped[int] = mapped_column(Integer)
    to_hash: Mapped[str] = mapped_column(String(64))
    state_map: Mapped[dict[str, str]] = mapped_column(JsonType, default=dict)
    # running (batches still to come) → applied → reverted
    status: Mapped[str] = mapped_column(String(16), default="running")
    migrated: Mapped[int] = mapped_column(Integer, default=0)
    blocked: Mapped[int] = mapped_column(Integer, default=0)
    created_by: Mapped[str] = mapped_column(String(64))
    created_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)
    finished_at: Mapped[datetime | None] = mapped_column(DateTime)
    reverted_by: Mapped[str | None] = mapped_column(String(64))
    reverted_at: Mapped[datetime | None] = mapped_column(DateTime)


class DefinitionMigrationItem(Base):
    """One instance a migration moved, with what it was before (its before-image)."""

    __tablename__ = "definition_migration_items"

    migration_id: Mapped[int] = mapped_column(
        ForeignKey("definition_migrations.id", ondelete="CASCADE"), primary_key=True
    )
    instance_id: Mapped[int] = mapped_column(BigId, primary_key=True)
    # definition_version, state, version, sla_due_at, state_entered_at, breached, and the
    # ids of the timers that were pending (cancelled by the move, re-armed by a revert).
    before: Mapped[dict[str, Any]] = mapped_column(JsonType, default=dict)
    after_version: Mapped[int] = mapped_column(Integer)
    from_hash: Mapped[str] = mapped_column(String(64))
    reverted_at: Mapped[datetime | None] = mapped_column(DateTime)
