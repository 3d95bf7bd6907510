"""The tamper-evident audit trail: per-stream SHA-256 hash chains.

Each stream (one workflow instance, one client, one user) is its own chain whose
head lives on a row the writer already locks (the instance row, or the stream's
row in ``audit_streams``), so writers on different streams never wait for each
other. Verification streams through the table in (stream, seq) order in constant
memory and names the first broken record.
"""

from __future__ import annotations

from collections.abc import Callable, Iterator
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any, Protocol

from sqlalchemy import Row, bindparam, insert, select, tuple_
from sqlalchemy.orm import Session

from workflow import texts
from workflow.platform import clock, correlation
from workflow.records.chain import GENESIS, HASHED_FIELDS, canonical, record_hash
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, AuditStream

__all__ = [
    "GENESIS",
    "HASHED_FIELDS",
    "canonical",
    "record_hash",
    "append",
    "write_record",
    "record_values",
    "Appended",
    "lock_stream",
    "record_event",
    "iter_records",
    "verify_chains",
    "instance_stream",
    "replay_state",
    "Break",
    "VerifyReport",
    "ChainHead",
    "StreamEnd",
]


class ChainHead(Protocol):
    audit_seq: int
    audit_hash: str


@dataclass(frozen=True)
class Appended:
    """What an append wrote: the record's place in its chain and its hash."""

    stream: str
    seq: int
    hash: str


_INSERT = insert(AuditRecord)


def write_record(
    session: Session,
    seq: int,
    prev_hash: str,
    stream: str,
    kind: str,
    actor: Actor,
    *,
    at: datetime | None = None,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> Appended:
    """Insert record ``seq`` of ``stream`` after ``prev_hash``; the caller holds the chain
    head locked and moves it (``append`` does both). A Core insert on the session's
    connection: one per firing, never read back in the transaction."""
    values = record_values(seq, prev_hash, stream, kind, actor, at=at, payload=payload, **fields)
    session.connection().execute(_INSERT, values)
    return Appended(stream, seq, values["hash"])


def record_values(
    seq: int,
    prev_hash: str,
    stream: str,
    kind: str,
    actor: Actor,
    *,
    at: datetime | None = None,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> dict[str, Any]:
    """Every column of record ``seq`` of ``stream`` after ``prev_hash``, hashed (for a
    writer that inserts it itself, as a firing does on PostgreSQL).

    A system comment that carries a code (:func:`workflow.texts.say`) is stored as its
    English text with the code and params added to the payload, so a console can word it
    in the reader's language; the chain hashes the payload as stored."""
    comment = fields.get("comment")
    code = getattr(comment, "code", None)
    if code is not None:
        fields["comment"] = str(comment)
        payload = {
            **(payload or {}),
            texts.COMMENT_CODE: code,
            texts.COMMENT_PARAMS: dict(getattr(comment, "params", None) or {}),
        }
    values: dict[str, Any] = {
        "stream": stream,
        "seq": seq,
        "kind": kind,
        "actor": actor.username,
        "roles": sorted(actor.roles),
        "at": at or clock.now(),
        "payload": payload or {},
        "prev_hash": prev_hash or GENESIS,
        **fields,
    }
    if values.get("request_id") is None:
        values["request_id"] = correlation.current_request_id()
    values["hash"] = record_hash(values)
    for name in _OPTIONAL:
        values.setdefault(name, None)
    return values


# Columns a record may leave out: bound as NULL so every insert has the same shape
# (one compiled statement, one prepared statement on the server).
_OPTIONAL = (
    "instance_id",
    "subject",
    "definition",
    "definition_version",
    "trigger",
    "from_state",
    "to_state",
    "comment",
    "request_id",
    "idempotency_key",
)


def append(
    session: Session,
    head: ChainHead,
    stream: str,
    kind: str,
    actor: Actor,
    *,
    at: datetime | None = None,
    payload: dict[str, Any] | None = None,
    **fields: Any,
) -> Appended:
    """Append a record to ``stream`` whose chain head ``head`` the caller holds locked."""
    written = write_record(
        session,
        head.audit_seq + 1,
        head.audit_hash,
        stream,
        kind,
        actor,
        at=at,
        payload=payload,
        **fields,
    )
    head.audit_seq = written.seq
    head.audit_hash = written.hash
    return written


def lock_stream(session: Session, stream: str) -> AuditStream:
    """Lock (creating if needed) the chain head of a non-instance stream."""
    head = session.execute(
        select(AuditStream).where(AuditStream.stream == stream).with_for_update()
    ).scalar_one_or_none()
    if head is None:
        # Two first writers can race to create the head; the loser's unique
        # violation rolls back its transaction and the caller retries.
        head = AuditStream(stream=stream, audit_seq=0, audit_hash="")
        session.add(head)
        session.flush()
    return head


def record_event(session: Session, stream: str, kind: str, actor: Actor, **fields: Any) -> Appended:
    """Append an event (client edit, login, unmasked read…) to a non-instance stream."""
    head = lock_stream(session, stream)
    return append(session, head, stream, kind, actor, **fields)


@dataclass(frozen=True)
class Break:
    """The first broken record found by verification."""

    stream: str
    seq: int
    record_id: int | None
    reason: str

    def to_dict(self) -> dict[str, Any]:
        return {
            "stream": self.stream,
            "seq": self.seq,
            "record_id": self.record_id,
            "reason": self.reason,
        }


@dataclass
class VerifyReport:
    ok: bool
    records: int
    streams: int
    first_break: Break | None
    checkpoints: int = 0
    replayed: int = 0
    # What weakens the proof without breaking it (no checkpoint, a late one, no anchor).
    warnings: list[str] = field(default_factory=list)
    anchor_file: str | None = None
    anchored: int = 0

    def to_dict(self) -> dict[str, Any]:
        return {
            "ok": self.ok,
            "records": self.records,
            "streams": self.streams,
            "checkpoints": self.checkpoints,
            "replayed": self.replayed,
            "first_break": self.first_break.to_dict() if self.first_break else None,
            "warnings": list(self.warnings),
            "anchor": (
                {"file": self.anchor_file, "checkpoints": self.anchored}
                if self.anchor_file is not None
                else None
            ),
        }


# What verification reads of a record: its id, the hashed fields, its hash.
_table = AuditRecord.__table__
_VERIFY_COLUMNS = (_table.c.id, *(_table.c[name] for name in HASHED_FIELDS), _table.c.hash)
_HASHED = slice(1, 1 + len(HASHED_FIELDS))


def iter_records(session: Session, batch: int = 5000, where: Any = None) -> Iterator[Row[Any]]:
    """All records in (stream, seq) order as plain rows (``id``, the hashed fields,
    ``hash``), fetched in keyset batches: constant memory, no ORM objects.

    The keyset is a row comparison, ``(stream, seq) > (last stream, last seq)``,
    which both PostgreSQL and SQLite answer as a range of the (stream, seq) index.
    """
    query = (
        select(*_VERIFY_COLUMNS)
        .where(
            tuple_(_table.c.stream, _table.c.seq)
            > tuple_(bindparam("after_stream"), bindparam("after_seq"))
        )
        .order_by(_table.c.stream, _table.c.seq)
        .limit(batch)
    )
    if where is not None:
        query = query.where(where)
    connection = session.connection()
    # Every stream name sorts after the empty one; sequence numbers start at 1.
    after: dict[str, Any] = {"after_stream": "", "after_seq": 0}
    while True:
        rows = connection.execute(query, after).all()
        if not rows:
            return
        yield from rows
        last = rows[-1]
        after = {"after_stream": last.stream, "after_seq": last.seq}


@dataclass(frozen=True)
class StreamEnd:
    """The last record of a verified chain, with what its records replay to."""

    stream: str
    seq: int
    record_id: int
    hash: str
    records: int  # records verified so far, this stream's included
    streams: int
    state: str | None  # what the stream's started/transition records fold to
    version: int
    replay_error: str | None


# At most this many chain ends are handed to ``on_stream_ends`` at once (one
# query per batch for their heads instead of one per stream).
STREAM_END_BATCH = 1000


def verify_chains(
    session: Session,
    *,
    on_stream_ends: Callable[[list[StreamEnd]], tuple[StreamEnd, str] | None] | None = None,
    progress: Callable[[int], None] | None = None,
    where: Any = None,
) -> VerifyReport:
    """Check every chain: contiguous sequence numbers, linked and recomputed hashes.

    ``on_stream_ends(ends)`` receives the ends of chains already verified, in
    order, in batches, and may return the first of them that is broken with the
    reason (used to compare with the head rows). A break found in a record is
    reported only after the chains before it were handed over, so the first
    break in (stream, seq) order is the one reported.
    """
    records = streams = 0
    current: str | None = None
    expected_seq = 1
    prev_hash = GENESIS
    last: Row[Any] | None = None
    state: str | None = None
    version = 0
    replay_error: str | None = None
    pending: list[StreamEnd] = []

    def hand_over() -> VerifyReport | None:
        found = on_stream_ends(pending) if on_stream_ends is not None and pending else None
        pending.clear()
        if found is None:
            return None
        end, reason = found
        return VerifyReport(
            False, end.records, end.streams, Break(end.stream, end.seq, end.record_id, reason)
        )

    for rec in iter_records(session, where=where):
        if rec.stream != current:
            if current is not None and last is not None:
                pending.append(
                    StreamEnd(
                        current,
                        last.seq,
                        last.id,
                        last.hash,
                        records,
                        streams,
                        state,
                        version,
                        replay_error,
                    )
                )
                if len(pending) >= STREAM_END_BATCH:
                    report = hand_over()
                    if report is not None:
                        return report
            current, expected_seq, prev_hash, last = rec.stream, 1, GENESIS, None
            state, version, replay_error = None, 0, None
            streams += 1
        records += 1
        if progress is not None and records % 10000 == 0:
            progress(records)
        broken = _check_link(rec, expected_seq, prev_hash, last)
        if broken:
            return hand_over() or VerifyReport(False, records, streams, broken)
        prev_hash = rec.hash
        expected_seq += 1
        last = rec
        # The replay of replay_state(), folded into the same pass.
        if rec.kind == "started":
            state, version = rec.to_state, 1
        elif rec.kind in MOVES and replay_error is None:
            if rec.from_state != state:
                replay_error = (
                    f"record {rec.seq} leaves {rec.from_state!r} but the instance was in {state!r}"
                )
            else:
                state = rec.to_state
                version += 1
    if current is not None and last is not None:
        pending.append(
            StreamEnd(
                current,
                last.seq,
                last.id,
                last.hash,
                records,
                streams,
                state,
                version,
                replay_error,
            )
        )
    return hand_over() or VerifyReport(True, records, streams, None)


def _check_link(
    rec: Row[Any], expected_seq: int, prev_hash: str, last: Row[Any] | None
) -> Break | None:
    """Why ``rec`` cannot follow ``last`` in its chain, or None."""
    if rec.seq != expected_seq:
        what = "missing (deleted)" if rec.seq > expected_seq else "out of order"
        return Break(
            rec.stream,
            expected_seq,
            rec.id,
            f"record {expected_seq} is {what} (found {rec.seq} next)",
        )
    values = dict(zip(HASHED_FIELDS, rec[_HASHED], strict=True))
    if record_hash(values) != rec.hash:
        for other in (rec.seq + 1, rec.seq - 1):
            if other > 0 and record_hash({**values, "seq": other}) == rec.hash:
                return Break(
                    rec.stream,
                    rec.seq,
                    rec.id,
                    f"records {min(rec.seq, other)} and {max(rec.seq, other)} were "
                    "reordered (the record at this position was written as "
                    f"record {other})",
                )
        return Break(
            rec.stream, rec.seq, rec.id, "hash does not match the record's content (altered)"
        )
    if rec.prev_hash != prev_hash:
        if last is not None:
            return Break(
                rec.stream,
                last.seq,
                last.id,
                f"record {last.seq} was altered or replaced (its hash was recomputed): "
                f"record {rec.seq} links to a different hash",
            )
        return Break(
            rec.stream, rec.seq, rec.id, "the first record does not start from the genesis hash"
        )
    return None


# Records that move an instance from one state to another (and raise its version): a
# firing, and a move to another definition version or back (``workflow.engine.migration``).
MOVES = frozenset({"transition", "instance.migrated", "instance.migration_reverted"})


def instance_stream(instance_id: int) -> str:
    return f"workflow:{instance_id}"


def replay_state(records: list[AuditRecord] | Iterator[AuditRecord]) -> tuple[str | None, int]:
    """Fold an instance's records into the (state, version) they imply.

    Raises:
        ValueError: a transition starts from a state the instance was not in.
    """
    state: str | None = None
    version = 0
    for rec in records:
        if rec.kind == "started":
            state, version = rec.to_state, 1
        elif rec.kind in MOVES:
            if rec.from_state != state:
                raise ValueError(
                    f"record {rec.seq} leaves {rec.from_state!r} but the instance was in {state!r}"
                )
            state = rec.to_state
            version += 1
    return state, version
