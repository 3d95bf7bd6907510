"""Signed checkpoints of every audit stream's head.

A checkpoint stores, for each stream whose head moved since the previous
checkpoint, the head's sequence number and hash, each signed with HMAC-SHA256
under ``RISKLOOP_AUDIT_KEY``; the checkpoint row signs the digest of its heads
and the previous checkpoint's signature, so checkpoints form a chain too. The
latest head row of a stream is therefore a signed promise that the stream had
reached that record: a later deleted stream or cut tail contradicts it, and an
attacker without the key cannot write a new promise. Each committed checkpoint is
also appended to an anchor file outside the database (:mod:`workflow.audit.anchors`), so
deleting the newest checkpoints, or all of them, is caught too.
"""

from __future__ import annotations

import hashlib
import itertools
import logging
from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import (
    DateTime,
    Index,
    Integer,
    String,
    and_,
    cast,
    func,
    literal,
    or_,
    select,
    union_all,
)
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Mapped, Session, aliased, mapped_column

from workflow.audit import anchors
from workflow.engine import runtime
from workflow.errors import ConfigurationError
from workflow.platform import clock
from workflow.platform.db import Base, BigId
from workflow.records import chain
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, AuditStream, WorkflowInstance

log = logging.getLogger(__name__)

# The hourly job (workflow/domain/audit_checkpoints.py) and how late its checkpoint may be
# before verification warns that nothing has signed the trail since.
CHECKPOINT_EVERY = timedelta(hours=1)
CHECKPOINT_GRACE = timedelta(minutes=30)


class AuditCheckpoint(Base):
    """One signed checkpoint; append-only like the audit records."""

    __tablename__ = "audit_checkpoints"

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    seq: Mapped[int] = mapped_column(Integer, unique=True)
    created_at: Mapped[datetime] = mapped_column(DateTime)
    created_by: Mapped[str] = mapped_column(String(96))
    streams: Mapped[int] = mapped_column(Integer)
    heads_digest: Mapped[str] = mapped_column(String(64))
    prev_hmac: Mapped[str] = mapped_column(String(64))
    hmac: Mapped[str] = mapped_column(String(64))


class AuditCheckpointHead(Base):
    """A stream's head as it stood at a checkpoint (only streams that moved)."""

    __tablename__ = "audit_checkpoint_heads"
    __table_args__ = (Index("ix_audit_checkpoint_heads_stream", "stream", "checkpoint_seq"),)

    # No foreign key: the heads are written before their checkpoint row, which
    # is then inserted once, complete (append-only rows are never updated).
    checkpoint_seq: Mapped[int] = mapped_column(Integer, primary_key=True)
    stream: Mapped[str] = mapped_column(String(96), primary_key=True)
    seq: Mapped[int] = mapped_column(Integer)
    hash: Mapped[str] = mapped_column(String(64))
    hmac: Mapped[str] = mapped_column(String(64))


def audit_key(session: Session, key: str | None = None) -> str:
    """``key``, else the engine's ``RISKLOOP_AUDIT_KEY``.

    Raises:
        ConfigurationError: no audit key is configured."""
    key = key or runtime.of(session).setting("RISKLOOP_AUDIT_KEY")
    if not key:
        raise ConfigurationError(
            "RISKLOOP_AUDIT_KEY is not set; set it to the key that signs "
            "audit checkpoints (the same on every process)"
        )
    return str(key)


def current_heads() -> Any:
    """Every stream's current head (instances' on their rows, others' in audit_streams)."""
    instances = select(
        (literal("workflow:") + cast(WorkflowInstance.id, String)).label("stream"),
        WorkflowInstance.audit_seq.label("seq"),
        WorkflowInstance.audit_hash.label("hash"),
    ).where(WorkflowInstance.audit_seq > 0)
    others = select(
        AuditStream.stream.label("stream"),
        AuditStream.audit_seq.label("seq"),
        AuditStream.audit_hash.label("hash"),
    ).where(AuditStream.audit_seq > 0)
    return union_all(instances, others).subquery("heads")


def latest_signed_heads(up_to: int | None = None) -> Any:
    """Each stream's most recent checkpointed head (at or before checkpoint ``up_to``)."""
    newer = aliased(AuditCheckpointHead)
    later = select(newer.checkpoint_seq).where(
        newer.stream == AuditCheckpointHead.stream,
        newer.checkpoint_seq > AuditCheckpointHead.checkpoint_seq,
    )
    if up_to is not None:
        later = later.where(newer.checkpoint_seq <= up_to)
    query = select(AuditCheckpointHead).where(~later.exists())
    if up_to is not None:
        query = query.where(AuditCheckpointHead.checkpoint_seq <= up_to)
    return query


def last_checkpoint(session: Session) -> AuditCheckpoint | None:
    return session.execute(
        select(AuditCheckpoint).order_by(AuditCheckpoint.seq.desc()).limit(1)
    ).scalar_one_or_none()


def create_checkpoint(
    session: Session, actor: Actor, *, key: str | None = None, batch: int = 2000
) -> AuditCheckpoint:
    """Sign every head that moved since the last checkpoint; runs in the caller's transaction.

    Raises:
        ConfigurationError: no audit key is configured.
    """
    key = audit_key(session, key)
    previous = last_checkpoint(session)
    seq = (previous.seq + 1) if previous else 1
    heads = current_heads()
    signed = latest_signed_heads(previous.seq if previous else 0).subquery("signed")
    moved = (
        select(heads.c.stream, heads.c.seq, heads.c.hash)
        .outerjoin(signed, signed.c.stream == heads.c.stream)
        .where(
            or_(signed.c.seq.is_(None), signed.c.seq != heads.c.seq, signed.c.hash != heads.c.hash)
        )
        .order_by(heads.c.stream)
    )
    digest = hashlib.sha256()
    count = 0
    pending: list[AuditCheckpointHead] = []
    for stream, head_seq, head_hash in session.execute(moved).yield_per(batch):
        digest.update(head_line(stream, head_seq, head_hash))
        pending.append(
            AuditCheckpointHead(
                checkpoint_seq=seq,
                stream=stream,
                seq=head_seq,
                hash=head_hash,
                hmac=chain.sign(key, chain.head_message(seq, stream, head_seq, head_hash)),
            )
        )
        count += 1
        if len(pending) >= batch:
            session.add_all(pending)
            session.flush()
            pending = []
    session.add_all(pending)
    checkpoint = AuditCheckpoint(
        seq=seq,
        created_at=clock.now(),
        created_by=actor.username,
        streams=count,
        heads_digest=digest.hexdigest(),
        prev_hmac=previous.hmac if previous else chain.GENESIS,
        hmac="",
    )
    checkpoint.hmac = chain.sign(key, checkpoint_message(checkpoint))
    session.add(checkpoint)
    session.flush()
    anchors.append_after_commit(session, seq, anchors.anchor_line(anchor_fields(checkpoint)))
    log.info(
        "audit checkpoint %d signed %d moved stream heads (hmac %s)", seq, count, checkpoint.hmac
    )
    return checkpoint


def ensure_checkpoint(
    session_factory: Callable[[], Session], actor: Actor
) -> AuditCheckpoint | None:
    """Sign the trail now when no checkpoint exists yet (at start-up), so that what it holds
    is signed and anchored before the first hourly checkpoint; the new checkpoint or None.

    Raises:
        ConfigurationError: no audit key is configured.
    """
    session = session_factory()
    try:
        if last_checkpoint(session) is not None:
            return None
        checkpoint = create_checkpoint(session, actor)
        session.commit()
        return checkpoint
    except IntegrityError:
        session.rollback()  # another process wrote the first checkpoint at the same moment
        return None
    except BaseException:
        session.rollback()
        raise
    finally:
        session.close()


def anchor_fields(cp: AuditCheckpoint) -> dict[str, Any]:
    """What the anchor file keeps of a checkpoint: what it signed, and its HMAC."""
    return {
        "seq": cp.seq,
        "created_at": chain.isoformat(cp.created_at),
        "streams": cp.streams,
        "heads_digest": cp.heads_digest,
        "prev_hmac": cp.prev_hmac,
        "hmac": cp.hmac,
    }


def head_line(stream: str, seq: int, head_hash: str) -> bytes:
    return f"{stream}\t{seq}\t{head_hash}\n".encode()


def checkpoint_message(cp: AuditCheckpoint) -> str:
    return chain.checkpoint_message(
        cp.seq, chain.isoformat(cp.created_at), cp.streams, cp.heads_digest, cp.prev_hmac
    )


@dataclass(frozen=True)
class CheckpointProblem:
    checkpoint: int
    stream: str | None
    reason: str


def verify_checkpoints(
    session: Session, *, key: str | None = None, batch: int = 2000
) -> tuple[int, CheckpointProblem | None]:
    """Check every checkpoint's signature, chain and heads; (count, first problem)."""
    count = 0
    expected_prev = chain.GENESIS
    expected_seq = 1
    signing_key: str | None = None
    for cp in _iter_checkpoints(session):
        signing_key = signing_key or audit_key(session, key)
        count += 1
        if cp.seq != expected_seq:
            return count, CheckpointProblem(
                expected_seq, None, f"checkpoint {expected_seq} is missing (deleted)"
            )
        if cp.prev_hmac != expected_prev:
            return count, CheckpointProblem(
                cp.seq,
                None,
                "forged checkpoint: it does not link to the previous checkpoint's signature",
            )
        if not chain.signature_matches(signing_key, checkpoint_message(cp), cp.hmac):
            return count, CheckpointProblem(
                cp.seq,
                None,
                "forged checkpoint: its HMAC does not "
                "match (written without the audit key, or altered)",
            )
        problem = _verify_heads(session, cp, signing_key, batch)
        if problem:
            return count, problem
        expected_prev = cp.hmac
        expected_seq += 1
    return count, None


@dataclass(frozen=True)
class AnchorComparison:
    compared: int
    highest: int  # the newest checkpoint anchored (0: none)
    problem: CheckpointProblem | None


def compare_anchors(
    session: Session, anchored: Iterable[anchors.Anchor], batch: int = 1000
) -> AnchorComparison:
    """Every anchored checkpoint must still be in the database with the same HMAC.

    Raises:
        UnreadableAnchor: a line of the anchor file is not an anchor.
    """
    newest = last_checkpoint(session)
    newest_seq = newest.seq if newest is not None else 0
    count = highest = 0
    lines = iter(anchored)
    while chunk := list(itertools.islice(lines, batch)):
        stored = {
            seq: signature
            for seq, signature in session.execute(
                select(AuditCheckpoint.seq, AuditCheckpoint.hmac).where(
                    AuditCheckpoint.seq.in_({a.seq for a in chunk})
                )
            )
        }
        for anchor in chunk:
            count += 1
            highest = max(highest, anchor.seq)
            problem = _anchor_problem(anchor, stored.get(anchor.seq), newest_seq)
            if problem is not None:
                return AnchorComparison(count, highest, problem)
    return AnchorComparison(count, highest, None)


def _anchor_problem(
    anchor: anchors.Anchor, stored_hmac: str | None, newest_seq: int
) -> CheckpointProblem | None:
    where = f"(anchor line {anchor.line})"
    if stored_hmac is None and anchor.seq > newest_seq:
        newest = f"is {newest_seq}" if newest_seq else "does not exist"
        return CheckpointProblem(
            anchor.seq,
            None,
            (
                f"cut checkpoint chain: checkpoint {anchor.seq} was anchored {where} but the "
                f"database's newest checkpoint {newest}: the newest checkpoints were deleted, "
                "with whatever they signed"
            ),
        )
    if stored_hmac is None:
        return CheckpointProblem(
            anchor.seq,
            None,
            f"checkpoint {anchor.seq} was anchored "
            f"{where} but is missing from the database (deleted)",
        )
    if stored_hmac != anchor.hmac:
        return CheckpointProblem(
            anchor.seq,
            None,
            (
                f"checkpoint {anchor.seq} is not the one anchored {where}: its HMAC differs, so "
                "checkpoints were deleted and signed again over a different trail (or the anchor "
                "file belongs to another database)"
            ),
        )
    return None


def _iter_checkpoints(session: Session) -> Iterator[AuditCheckpoint]:
    last = 0
    while True:
        rows = list(
            session.execute(
                select(AuditCheckpoint)
                .where(AuditCheckpoint.seq > last)
                .order_by(AuditCheckpoint.seq)
                .limit(100)
            ).scalars()
        )
        if not rows:
            return
        yield from rows
        last = rows[-1].seq


def _verify_heads(
    session: Session, cp: AuditCheckpoint, key: str, batch: int
) -> CheckpointProblem | None:
    digest = hashlib.sha256()
    count = 0
    query = (
        select(
            AuditCheckpointHead.stream,
            AuditCheckpointHead.seq,
            AuditCheckpointHead.hash,
            AuditCheckpointHead.hmac,
        )
        .where(AuditCheckpointHead.checkpoint_seq == cp.seq)
        .order_by(AuditCheckpointHead.stream)
    )
    for stream, seq, head_hash, signature in session.execute(query).yield_per(batch):
        if not chain.signature_matches(
            key, chain.head_message(cp.seq, stream, seq, head_hash), signature
        ):
            return CheckpointProblem(
                cp.seq, stream, "forged checkpoint: the HMAC of this stream's head does not match"
            )
        digest.update(head_line(stream, seq, head_hash))
        count += 1
    if count != cp.streams or digest.hexdigest() != cp.heads_digest:
        return CheckpointProblem(
            cp.seq,
            None,
            "forged checkpoint: its stream heads were added, removed or changed after signing",
        )
    return None


def uncovered_head(session: Session) -> tuple[str, int, str] | None:
    """The first checkpointed head whose record is gone or different: (stream, seq, reason)."""
    signed = latest_signed_heads().subquery("signed")
    query = (
        select(signed.c.stream, signed.c.seq, signed.c.hash, AuditRecord.hash)
        .outerjoin(
            AuditRecord,
            and_(AuditRecord.stream == signed.c.stream, AuditRecord.seq == signed.c.seq),
        )
        .where(or_(AuditRecord.id.is_(None), AuditRecord.hash != signed.c.hash))
        .order_by(signed.c.stream)
        .limit(1)
    )
    row = session.execute(query).first()
    if row is None:
        return None
    stream, seq, signed_hash, found_hash = row
    if found_hash is not None:
        return (
            stream,
            seq,
            (
                "record differs from the checkpoint: it was altered and its hash "
                "recomputed, or the chain was rewritten"
            ),
        )
    remaining = session.execute(
        select(func.max(AuditRecord.seq)).where(AuditRecord.stream == stream)
    ).scalar_one_or_none()
    if remaining is None:
        return (
            stream,
            seq,
            (f"deleted stream: the checkpoint signed {seq} records but the stream has none"),
        )
    return (
        stream,
        seq,
        (f"cut tail: the checkpoint signed records up to {seq} but the stream ends at {remaining}"),
    )
