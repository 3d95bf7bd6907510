"""Verifying the whole trail: checkpoints, every chain, every head, replay, evidence.

Each pass streams (keyset batches of plain rows, or a single anti-join query),
so memory stays constant however long the trail is; the heads are read a
thousand streams per query and the replay is folded into the chain pass. The
first problem found is reported with its stream, sequence number and reason, in
this order:

0. anchors (when an anchor file is given): every checkpoint anchored outside the
   database is still there with the same HMAC (the newest were not deleted, the
   chain was not deleted and signed again);
1. checkpoints: each one's HMAC, its link to the previous one, its signed heads;
2. chains: contiguous sequence numbers, recomputed hashes, links; the last
   record of a stream must be the head kept on the instance or stream row;
3. heads: a stream whose head row names a record that is gone;
4. coverage: every stream head signed by the checkpoints is still there
   (a deleted stream or a cut tail since the checkpoint);
5. replay: folding each instance's records gives its stored state and version;
6. evidence: files whose stored SHA-256 no longer matches (if the due-diligence
   feature provides ``verify_evidence``).

A trail that verifies can still be weakly proven: the report warns when no
checkpoint exists, when the newest is older than the hourly schedule allows, and
when no anchor file was compared.
"""

from __future__ import annotations

import importlib
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

from sqlalchemy import String, and_, cast, exists, func, literal, or_, select
from sqlalchemy.orm import Session

from workflow.audit import anchors, checkpoints
from workflow.audit.search import require_auditor
from workflow.platform import clock
from workflow.records import chain
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, AuditStream, WorkflowInstance
from workflow.records.trail import Break, StreamEnd, VerifyReport, instance_stream, verify_chains

Progress = Callable[[str], None]
# Where the due-diligence feature keeps ``verify_evidence(session) -> problems``.
EVIDENCE_MODULES = ("workflow.risk.due_diligence.evidence", "workflow.risk.due_diligence.review")


def count_records(session: Session) -> int:
    return int(session.execute(select(func.count()).select_from(AuditRecord)).scalar_one())


def verify_all(
    session: Session,
    *,
    progress: Progress | None = None,
    on_records: Callable[[int], None] | None = None,
    key: str | None = None,
    anchor: Path | None = None,
) -> VerifyReport:
    """Compare with the anchor file, check checkpoints, chains, heads, replay and evidence;
    names the first break and warns of what weakens the proof.

    ``progress`` receives a line of text now and then, ``on_records`` the number of
    records checked so far (for a progress bar); ``anchor`` is an anchor file
    (:mod:`workflow.audit.anchors`) whose checkpoints must all be in the database.

    Raises:
        ConfigurationError: checkpoints exist but no audit key is configured.
    """
    say = progress or (lambda _line: None)
    compared = None
    if anchor is not None:
        say(f"comparing checkpoints with the anchor file {anchor}…")
        compared = _anchored(session, anchor)
    report = (
        _broken(0, 0, compared.problem, 0)
        if compared and compared.problem
        else _verify(session, say, on_records, key)
    )
    report.warnings = _warnings(session, compared)
    report.anchor_file = str(anchor) if anchor is not None else None
    report.anchored = compared.compared if compared else 0
    return report


def _verify(
    session: Session, say: Progress, on_records: Callable[[int], None] | None, key: str | None
) -> VerifyReport:
    say("checking checkpoint signatures…")
    checkpoint_count, problem = checkpoints.verify_checkpoints(session, key=key)
    if problem is not None:
        return _broken(
            0,
            0,
            Break(
                problem.stream or f"checkpoint:{problem.checkpoint}",
                problem.checkpoint,
                None,
                problem.reason,
            ),
            checkpoint_count,
        )

    def counted(count: int) -> None:
        if on_records is not None:
            on_records(count)
        say(f"  verified {count} records…")

    say("checking hash chains…")
    heads = _Heads(session)
    report = verify_chains(session, on_stream_ends=heads.check, progress=counted)
    report.checkpoints = checkpoint_count
    if not report.ok:
        return report
    if on_records is not None:
        on_records(report.records)
    for check in (_orphan_head, _checkpoint_coverage):
        broken = check(session)
        if broken is not None:
            return _broken(report.records, report.streams, broken, checkpoint_count)
    say("replaying workflow instances…")
    report = heads.replay_report(report)
    if not report.ok:
        return report
    say("checking evidence files…")
    broken = _evidence(session)
    if broken is not None:
        return _broken(report.records, report.streams, broken, checkpoint_count, report.replayed)
    return report


def verify_as(session: Session, actor: Actor, **kwargs: Any) -> VerifyReport:
    """:func:`verify_all` on behalf of ``actor``.

    Raises:
        Forbidden: the actor is not an auditor.
    """
    require_auditor(actor, "verifying the audit trail")
    return verify_all(session, **kwargs)


@dataclass(frozen=True)
class _Compared:
    compared: int
    highest: int
    problem: Break | None


def _anchored(session: Session, path: Path) -> _Compared:
    try:
        found = checkpoints.compare_anchors(session, anchors.read(path))
    except anchors.UnreadableAnchor as exc:
        return _Compared(0, 0, Break(f"anchor:{path.name}", exc.line, None, str(exc)))
    except OSError as exc:
        return _Compared(
            0,
            0,
            Break(
                f"anchor:{path.name}",
                0,
                None,
                f"the anchor file {path} cannot be read ({exc.strerror or exc})",
            ),
        )
    problem = found.problem
    brk = (
        None
        if problem is None
        else Break(f"checkpoint:{problem.checkpoint}", problem.checkpoint, None, problem.reason)
    )
    return _Compared(found.compared, found.highest, brk)


def _warnings(session: Session, compared: _Compared | None) -> list[str]:
    found = []
    newest = checkpoints.last_checkpoint(session)
    if newest is None:
        found.append(
            "NO CHECKPOINT: nothing signs the audit trail, so a record rewritten "
            "together with its stream head, or a deleted stream, cannot be detected; "
            "run `riskloop audit checkpoint` (the scheduler signs one at start-up and "
            "every hour)"
        )
    else:
        age = clock.now() - newest.created_at
        if age > checkpoints.CHECKPOINT_EVERY + checkpoints.CHECKPOINT_GRACE:
            found.append(
                f"STALE CHECKPOINT: the newest checkpoint ({newest.seq}, "
                f"{chain.isoformat(newest.created_at)}) is {_age(age)} old but one is "
                "due every hour: nothing written since is signed yet; is the "
                "scheduler running?"
            )
    if compared is None:
        found.append(
            "NO ANCHOR: the checkpoints were not compared with an anchor file, so "
            "deleting the newest checkpoints with what they signed goes unnoticed; "
            "compare with `riskloop audit verify --anchor FILE`"
        )
    elif newest is not None and compared.problem is None and newest.seq > compared.highest + 1:
        found.append(
            f"ANCHOR BEHIND: the database's newest checkpoint is {newest.seq} but the "
            f"anchor file's is {compared.highest or 'none'}: the checkpoints since are "
            "not anchored there (written on another host, or appending fails: see "
            "the log)"
        )
    return found


def _age(age: timedelta) -> str:
    minutes = int(age.total_seconds() // 60)
    if minutes < 48 * 60:
        return f"{minutes // 60} h {minutes % 60} min"
    return f"{minutes // (24 * 60)} days"


def _broken(
    records: int, streams: int, brk: Break, checkpoint_count: int, replayed: int = 0
) -> VerifyReport:
    return VerifyReport(
        False, records, streams, brk, checkpoints=checkpoint_count, replayed=replayed
    )


_INSTANCE_PREFIX = "workflow:"


class _Heads:
    """Checks batches of chain ends against the head rows (one query per batch), and
    keeps what their replay gave for the replay phase, reported after the others."""

    def __init__(self, session: Session) -> None:
        self.session = session
        self.replayed = 0
        # The lowest instance id whose replay failed, and the break to report.
        self.replay_break: tuple[int, Break] | None = None

    def check(self, ends: list[StreamEnd]) -> tuple[StreamEnd, str] | None:
        ids = [
            int(e.stream[len(_INSTANCE_PREFIX) :])
            for e in ends
            if e.stream.startswith(_INSTANCE_PREFIX)
        ]
        names = [e.stream for e in ends if not e.stream.startswith(_INSTANCE_PREFIX)]
        instances = (
            {
                row.id: row
                for row in self.session.execute(
                    select(
                        WorkflowInstance.id,
                        WorkflowInstance.state,
                        WorkflowInstance.version,
                        WorkflowInstance.audit_seq,
                        WorkflowInstance.audit_hash,
                    ).where(WorkflowInstance.id.in_(ids))
                )
            }
            if ids
            else {}
        )
        streams = (
            {
                row.stream: row
                for row in self.session.execute(
                    select(AuditStream.stream, AuditStream.audit_seq, AuditStream.audit_hash).where(
                        AuditStream.stream.in_(names)
                    )
                )
            }
            if names
            else {}
        )
        for end in ends:
            if end.stream.startswith(_INSTANCE_PREFIX):
                instance_id = int(end.stream[len(_INSTANCE_PREFIX) :])
                instance = instances.get(instance_id)
                if instance is None:
                    return end, "the audit stream has no workflow instance"
                reason = _head_mismatch(end, instance.audit_seq, instance.audit_hash)
                if reason:
                    return end, reason
                self._replayed(end, instance_id, instance)
            else:
                row = streams.get(end.stream)
                if row is None:
                    return end, "the audit stream has no head row in audit_streams"
                reason = _head_mismatch(end, row.audit_seq, row.audit_hash)
                if reason:
                    return end, reason
        return None

    def _replayed(self, end: StreamEnd, instance_id: int, instance: Any) -> None:
        if end.replay_error is None and (end.state, end.version) == (
            instance.state,
            instance.version,
        ):
            self.replayed += 1
            return
        if self.replay_break is not None and self.replay_break[0] < instance_id:
            return
        if end.replay_error is not None:
            brk = Break(end.stream, 0, None, f"replay failed: {end.replay_error}")
        else:
            brk = _replay_mismatch(end.stream, end.state, end.version, instance)
        self.replay_break = (instance_id, brk)

    def replay_report(self, chains: VerifyReport) -> VerifyReport:
        """Every instance folds to its stored state and version; the first (by id) that
        does not is reported, as is an instance without any record."""
        unrecorded = self.session.execute(
            select(
                WorkflowInstance.id,
                WorkflowInstance.state,
                WorkflowInstance.version,
                WorkflowInstance.audit_seq,
            )
            .where(
                ~exists().where(
                    AuditRecord.stream
                    == literal(_INSTANCE_PREFIX) + cast(WorkflowInstance.id, String)
                )
            )
            .order_by(WorkflowInstance.id)
            .limit(1)
        ).first()
        found = self.replay_break
        if unrecorded is not None and (found is None or unrecorded.id < found[0]):
            found = (
                unrecorded.id,
                _replay_mismatch(instance_stream(unrecorded.id), None, 0, unrecorded),
            )
        if found is None:
            chains.replayed = self.replayed
            return chains
        instance_id, brk = found
        before = self.session.execute(
            select(func.count())
            .select_from(WorkflowInstance)
            .where(WorkflowInstance.id < instance_id)
        ).scalar_one()
        return VerifyReport(
            False,
            chains.records,
            chains.streams,
            brk,
            checkpoints=chains.checkpoints,
            replayed=int(before),
        )


def _replay_mismatch(stream: str, state: str | None, version: int, instance: Any) -> Break:
    return Break(
        stream,
        instance.audit_seq,
        None,
        f"replay gives state {state!r} v{version} but the instance is "
        f"{instance.state!r} v{instance.version}",
    )


def _head_mismatch(end: StreamEnd, head_seq: int, head_hash: str) -> str | None:
    """Why the stream's last record is not the head kept on its row, or None."""
    if head_seq != end.seq:
        return (
            f"the stream's head is record {head_seq} but the last record is {end.seq}: "
            "records were removed or added"
        )
    if head_hash != end.hash:
        return (
            f"record {end.seq} was altered or replaced (its hash was recomputed): it is not "
            "the head the stream recorded"
        )
    return None


def _orphan_head(session: Session) -> Break | None:
    """A head row whose record is gone (a stream deleted without its head row)."""
    heads = checkpoints.current_heads()
    row = session.execute(
        select(heads.c.stream, heads.c.seq)
        .outerjoin(
            AuditRecord, and_(AuditRecord.stream == heads.c.stream, AuditRecord.seq == heads.c.seq)
        )
        .where(or_(AuditRecord.id.is_(None), AuditRecord.hash != heads.c.hash))
        .order_by(heads.c.stream)
        .limit(1)
    ).first()
    if row is None:
        return None
    stream, seq = row
    return Break(
        stream,
        seq,
        None,
        f"the stream's head is record {seq} but that record is gone (deleted stream or cut tail)",
    )


def _checkpoint_coverage(session: Session) -> Break | None:
    found = checkpoints.uncovered_head(session)
    if found is None:
        return None
    stream, seq, reason = found
    return Break(stream, seq, None, reason)


def _evidence(session: Session) -> Break | None:
    """Ask the due-diligence feature, when installed, which evidence files are missing or altered."""
    check = None
    for name in EVIDENCE_MODULES:
        try:
            check = getattr(importlib.import_module(name), "verify_evidence", None)
        except ModuleNotFoundError:
            continue
        if check is not None:
            break
    if check is None:
        return None
    problems = check(session)
    first = _first_problem(problems)
    if first is None:
        return None
    if isinstance(first, dict):
        stream = str(first.get("stream") or f"evidence:{first.get('sha256', '?')}")
        reason = str(first.get("reason") or first)
        return Break(stream, int(first.get("seq") or 0), None, f"evidence: {reason}")
    return Break("evidence", 0, None, f"evidence: {first}")


def _first_problem(problems: Any) -> Any:
    if not problems:
        return None
    if isinstance(problems, (str, dict)):
        return problems
    if isinstance(problems, Iterable):
        return next(iter(problems), None)
    return str(problems)
