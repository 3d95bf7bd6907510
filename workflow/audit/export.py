"""Exporting part of the audit trail with its chain proof, as JSON Lines or CSV.

An export covers one workflow instance, one client (its own stream and every
case about it), a time range, or a combination. Records are streamed in (stream, seq) order
from a server-side cursor, so an export of any size is never held in memory.

JSON Lines layout (one JSON object a line), re-checked offline by
``python -m workflow.audit.offline_verifier FILE``:

- ``{"type": "header", ...}`` — format, scope, whether streams are complete;
- per stream, first ``{"type": "proof", ...}`` — the covering checkpoint's signed
  head for that stream (absent if no checkpoint has signed it yet), then its
  ``{"type": "record", ...}`` lines with every hashed field, ``prev_hash`` and ``hash``;
- ``{"type": "footer", ...}`` — counts, the SHA-256 of every preceding line and
  its HMAC under the audit key (so any edit of the file shows).

The CSV (UTF-8 with BOM so that Excel shows Chinese text) has the same rows
for people to read, text a spreadsheet would run as a formula written with a leading
apostrophe (``workflow.platform.spreadsheet``); the JSON Lines file, verbatim, is the one to re-verify.
"""

from __future__ import annotations

import hashlib
import json
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from sqlalchemy import and_, func, select, true
from sqlalchemy.orm import Session

from workflow.audit.checkpoints import AuditCheckpointHead, audit_key
from workflow.audit.search import require_auditor
from workflow.errors import NotFound
from workflow.platform import clock
from workflow.platform.spreadsheet import csv_lines
from workflow.records import chain
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance
from workflow.records.trail import instance_stream

FORMAT = "riskloop-audit-export"
FORMAT_VERSION = 1
CSV_COLUMNS = ("type", *chain.HASHED_FIELDS, "hash", "checkpoint", "hmac")


@dataclass(frozen=True)
class ExportScope:
    """What to export; the parts combine (an instance's records within a time range).

    With neither an instance nor a client, every stream is exported; without a
    time range, whole streams are, from their first record.
    """

    instance_id: int | None = None
    client_id: int | None = None
    since: datetime | None = None
    until: datetime | None = None

    @property
    def complete_streams(self) -> bool:
        """Without a time range every exported stream starts at its first record."""
        return self.since is None and self.until is None

    def to_dict(self) -> dict[str, Any]:
        return {
            "instance_id": self.instance_id,
            "client_id": self.client_id,
            "since": chain.isoformat(self.since),
            "until": chain.isoformat(self.until),
        }


def client_streams(session: Session, client_id: int) -> list[str]:
    """The client's own stream and the streams of every case about it."""
    ids = session.execute(
        select(WorkflowInstance.id).where(
            WorkflowInstance.subject_type == "client", WorkflowInstance.subject_id == client_id
        )
    ).scalars()
    return [f"client:{client_id}", *(instance_stream(i) for i in ids)]


def scope_filter(session: Session, scope: ExportScope) -> Any:
    """Raises:
    NotFound: the instance does not exist."""
    conditions = []
    if scope.instance_id is not None:
        if session.get(WorkflowInstance, scope.instance_id) is None:
            raise NotFound(f"workflow instance {scope.instance_id} does not exist")
        conditions.append(AuditRecord.stream == instance_stream(scope.instance_id))
    if scope.client_id is not None:
        conditions.append(AuditRecord.stream.in_(client_streams(session, scope.client_id)))
    if scope.since is not None:
        conditions.append(AuditRecord.at >= scope.since)
    if scope.until is not None:
        conditions.append(AuditRecord.at < scope.until)
    return and_(true(), *conditions)


def covering_head(session: Session, stream: str, last_seq: int) -> AuditCheckpointHead | None:
    """The first signed head at or beyond ``last_seq``, else the latest one."""
    base = select(AuditCheckpointHead).where(AuditCheckpointHead.stream == stream)
    beyond = session.execute(
        base.where(AuditCheckpointHead.seq >= last_seq)
        .order_by(AuditCheckpointHead.checkpoint_seq)
        .limit(1)
    ).scalar_one_or_none()
    if beyond is not None:
        return beyond
    return session.execute(
        base.order_by(AuditCheckpointHead.checkpoint_seq.desc()).limit(1)
    ).scalar_one_or_none()


def record_row(rec: AuditRecord) -> dict[str, Any]:
    row: dict[str, Any] = {"type": "record"}
    for name in chain.HASHED_FIELDS:
        value = getattr(rec, name)
        row[name] = chain.isoformat(value) if isinstance(value, datetime) else value
    row["roles"] = sorted(row["roles"] or [])
    row["payload"] = row["payload"] or {}
    row["hash"] = rec.hash
    return row


def proof_row(head: AuditCheckpointHead) -> dict[str, Any]:
    return {
        "type": "proof",
        "stream": head.stream,
        "seq": head.seq,
        "hash": head.hash,
        "checkpoint": head.checkpoint_seq,
        "hmac": head.hmac,
    }


def export_rows(session: Session, scope: ExportScope, actor: Actor) -> Iterator[dict[str, Any]]:
    """Header, then per stream its proof and records, then the footer (without signature).

    Checks run at once (before any row is produced), so a refused export never
    starts a response.

    Raises:
        Forbidden: the actor is not an auditor.
        NotFound: the instance does not exist.
    """
    require_auditor(actor, "exporting the audit trail")
    where = scope_filter(session, scope)
    return _rows(session, scope, actor, where)


def _rows(
    session: Session, scope: ExportScope, actor: Actor, where: Any
) -> Iterator[dict[str, Any]]:
    yield {
        "type": "header",
        "format": FORMAT,
        "version": FORMAT_VERSION,
        "scope": scope.to_dict(),
        "complete_streams": scope.complete_streams,
        "exported_at": chain.isoformat(clock.now()),
        "exported_by": actor.username,
        "hashed_fields": list(chain.HASHED_FIELDS),
    }
    records = streams = 0
    current: str | None = None
    query = (
        select(AuditRecord)
        .where(where)
        .order_by(AuditRecord.stream, AuditRecord.seq)
        .execution_options(yield_per=1000)
    )
    for rec in session.execute(query).scalars():
        if rec.stream != current:
            current = rec.stream
            streams += 1
            # The proof goes before the stream's records, so that the offline
            # verifier checks it while streaming through them.
            last_seq = session.execute(
                select(func.max(AuditRecord.seq)).where(where, AuditRecord.stream == current)
            ).scalar_one()
            head = covering_head(session, current, int(last_seq))
            if head is not None:
                yield proof_row(head)
        yield record_row(rec)
        records += 1
    yield {"type": "footer", "records": records, "streams": streams}


def export_jsonl(
    session: Session, scope: ExportScope, actor: Actor, *, key: str | None = None
) -> Iterator[str]:
    """JSON Lines text, line by line; the footer signs the SHA-256 of every line before it.

    Raises:
        ConfigurationError: no audit key; and as :func:`export_rows`.
    """
    signing_key = audit_key(session, key)
    return _signed_lines(export_rows(session, scope, actor), signing_key)


def _signed_lines(rows: Iterator[dict[str, Any]], signing_key: str) -> Iterator[str]:
    digest = hashlib.sha256()
    for row in rows:
        if row["type"] == "footer":
            row["sha256"] = digest.hexdigest()
            row["hmac"] = chain.sign(signing_key, row["sha256"])
        line = json.dumps(row, ensure_ascii=False, sort_keys=True) + "\n"
        digest.update(line.encode("utf-8"))
        yield line


def export_csv(session: Session, scope: ExportScope, actor: Actor) -> Iterator[str]:
    """CSV text with a UTF-8 BOM, row by row (roles and payload as JSON)."""
    produced = export_rows(session, scope, actor)

    def rows() -> Iterator[dict[str, Any]]:
        for row in produced:
            if row["type"] == "record":
                yield {
                    **row,
                    "roles": chain.canonical(row["roles"]),
                    "payload": chain.canonical(row["payload"]),
                }
            elif row["type"] == "proof":
                yield row

    return csv_lines(CSV_COLUMNS, rows())
