"""Evidence files of a due-diligence case, stored content-addressed by SHA-256.

A file is streamed to a temporary file in the evidence folder while it is hashed
and measured, then renamed atomically to ``<dir>/<sha[:2]>/<sha256>``: an upload
that fails midway (too large, connection lost) leaves no partial file behind.
Each upload is an ``evidence.uploaded`` record on the case's audit chain carrying
the hash, so :func:`verify_evidence` can report a file that went missing or was
altered on disk.
"""

from __future__ import annotations

import hashlib
import logging
import os
import tempfile
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import BigInteger, DateTime, Index, String, UniqueConstraint, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflow import audit, clock, runtime, visibility
from workflow.db import Base, BigId
from workflow.errors import (
    ConfigurationError,
    Conflict,
    Forbidden,
    IllegalState,
    NotFound,
    PayloadTooLarge,
    UnsupportedMediaType,
)
from workflow.identity import Actor
from workflow.models import AuditRecord, WorkflowInstance

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
CHUNK = 64 * 1024
EVENT = "evidence.uploaded"
# PDF, images and office documents (Microsoft and OpenDocument formats).
ALLOWED_TYPES = frozenset({
    "application/pdf",
    "image/png", "image/jpeg", "image/gif", "image/webp", "image/tiff", "image/bmp",
    "application/msword",
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    "application/vnd.ms-excel",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
    "application/vnd.ms-powerpoint",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation",
    "application/vnd.oasis.opendocument.text",
    "application/vnd.oasis.opendocument.spreadsheet",
    "application/vnd.oasis.opendocument.presentation",
})
UPLOADER_ROLES = frozenset({"risk_officer", "manager"})
# Evidence is part of the risk report, which sales never sees (SPEC 1).
READER_ROLES = visibility.SEE_ALL
OPEN_STATES = ("opened", "collecting")
DEFINITIONS = ("due_diligence",)


class Evidence(Base):
    """One evidence file attached to a case (the bytes live in the evidence folder)."""

    __tablename__ = "evidence_files"
    __table_args__ = (
        UniqueConstraint("instance_id", "sha256"),
        Index("ix_evidence_files_sha256", "sha256"),
    )

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    instance_id: Mapped[int] = mapped_column(BigId)
    sha256: Mapped[str] = mapped_column(String(64))
    filename: Mapped[str] = mapped_column(String(255))
    content_type: Mapped[str] = mapped_column(String(128))
    size: Mapped[int] = mapped_column(BigInteger)
    uploaded_by: Mapped[str] = mapped_column(String(64))
    uploaded_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


def evidence_dir() -> Path:
    """Raises:
        ConfigurationError: ``RISKLOOP_EVIDENCE_DIR`` is not configured."""
    folder = runtime.setting("RISKLOOP_EVIDENCE_DIR")
    if not folder:
        raise ConfigurationError("RISKLOOP_EVIDENCE_DIR is not set; point it at a writable folder "
                                 "(the app defaults it to <instance folder>/evidence)")
    return Path(str(folder))


def max_bytes() -> int:
    return int(runtime.setting("RISKLOOP_EVIDENCE_MAX_BYTES", DEFAULT_MAX_BYTES))


def path_for(sha256: str) -> Path:
    return evidence_dir() / sha256[:2] / sha256


def check_content_type(content_type: str | None) -> str:
    """Raises:
        UnsupportedMediaType: not a PDF, image or office document."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base not in ALLOWED_TYPES:
        raise UnsupportedMediaType(
            f"evidence of type {base or 'unknown'!r} is not accepted; upload a PDF, an image "
            "(PNG, JPEG, GIF, WebP, TIFF, BMP) or an office document (Word, Excel, PowerPoint, "
            "OpenDocument)", allowed=sorted(ALLOWED_TYPES))
    return base


def store_file(stream: IO[bytes], limit: int | None = None) -> tuple[str, int]:
    """Copy ``stream`` into the evidence folder; returns (sha256, size).

    Raises:
        PayloadTooLarge: the stream is longer than ``limit`` bytes (nothing is kept).
    """
    limit = max_bytes() if limit is None else limit
    folder = evidence_dir()
    folder.mkdir(parents=True, exist_ok=True)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=".upload-", dir=folder)
    tmp = Path(tmp_name)
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"the file is larger than the evidence limit of {limit} bytes; compress or "
                        "split it (the limit is RISKLOOP_EVIDENCE_MAX_BYTES)", limit=limit)
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            os.fsync(out.fileno())
        sha = digest.hexdigest()
        final = folder / sha[:2] / sha
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return sha, size


def _load_case(session: Session, instance_id: int, actor: Actor, *, lock: bool) -> WorkflowInstance:
    query = select(WorkflowInstance).where(WorkflowInstance.id == instance_id)
    if lock:  # the audit chain head lives on the instance row
        query = query.with_for_update().execution_options(populate_existing=True)
    instance = session.execute(query).scalar_one_or_none()
    instance = visibility.require_view(session, instance, actor, runtime.current().catalog.registry,
                                       instance_id)
    if instance.definition not in DEFINITIONS:
        raise Conflict(f"case {instance_id} is a {instance.definition}; evidence files belong to "
                       "due-diligence cases")
    return instance


def attach(session: Session, instance_id: int, actor: Actor, stream: IO[bytes], *,
           filename: str, content_type: str | None, request_id: str | None = None) -> Evidence:
    """Store an evidence file on a due-diligence case and record its hash in the audit trail.

    Raises:
        NotFound: no such case visible to ``actor``.
        Forbidden: ``actor`` is not a risk officer or manager.
        IllegalState: the case is no longer collecting evidence.
        UnsupportedMediaType, PayloadTooLarge: the file is refused (nothing is stored).
    """
    if not actor.has_any(UPLOADER_ROLES):
        raise Forbidden("evidence is uploaded by risk officers or managers", rule="role")
    content_type = check_content_type(content_type)
    # Checked before the upload streams in (no row lock held meanwhile), again under the lock.
    _check_open(_load_case(session, instance_id, actor, lock=False))
    sha, size = store_file(stream)
    instance = _load_case(session, instance_id, actor, lock=True)
    _check_open(instance)
    existing = session.execute(
        select(Evidence).where(Evidence.instance_id == instance_id, Evidence.sha256 == sha)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    now = clock.now()
    name = os.path.basename(filename.replace("\\", "/"))[:255] or sha
    row = Evidence(instance_id=instance_id, sha256=sha, filename=name, content_type=content_type,
                   size=size, uploaded_by=actor.username, uploaded_at=now)
    session.add(row)
    entry = {"sha256": sha, "filename": name, "content_type": content_type, "size": size}
    instance.data = {**instance.data, "evidence": [*instance.data.get("evidence", []),
                                                   {**entry, "by": actor.username,
                                                    "at": clock.isoformat(now)}]}
    instance.updated_at = now
    audit.append(
        session, instance, audit.instance_stream(instance.id), EVENT, actor, at=now,
        instance_id=instance.id, subject=f"{instance.subject_type}:{instance.subject_id}",
        definition=instance.definition, definition_version=instance.definition_version,
        payload=entry, request_id=request_id,
    )
    return row


def _check_open(instance: WorkflowInstance) -> None:
    if instance.state not in OPEN_STATES:
        raise IllegalState(
            f"case {instance.id} is {instance.state!r}; evidence is added while it is "
            f"{' or '.join(OPEN_STATES)} (a reviewer may send it back to collecting)",
            state=instance.state)


def _require_reader(actor: Actor) -> None:
    if not actor.has_any(READER_ROLES):
        raise Forbidden("evidence files are part of the risk report, readable by risk officers, "
                        "legal, managers and auditors", rule="role")


def list_for(session: Session, instance_id: int, actor: Actor, *, after: int = 0,
             limit: int = 50) -> list[Evidence]:
    """Evidence of a case visible to ``actor``, oldest first from id ``after``."""
    instance = visibility.require_view(session, session.get(WorkflowInstance, instance_id), actor,
                                       runtime.current().catalog.registry, instance_id)
    _require_reader(actor)
    return list(session.execute(
        select(Evidence).where(Evidence.instance_id == instance.id, Evidence.id > after)
        .order_by(Evidence.id).limit(limit)
    ).scalars())


def open_for_download(session: Session, instance_id: int, sha256: str, actor: Actor) -> tuple[Evidence, Path]:
    """The evidence row and its verified file, for an actor who may read the case.

    Raises:
        NotFound: no such case or file on it, or the stored file is missing.
        Conflict: the stored file no longer matches its hash (altered on disk).
    """
    instance = visibility.require_view(session, session.get(WorkflowInstance, instance_id), actor,
                                       runtime.current().catalog.registry, instance_id)
    _require_reader(actor)
    row = session.execute(
        select(Evidence).where(Evidence.instance_id == instance.id, Evidence.sha256 == sha256.lower())
    ).scalar_one_or_none()
    if row is None:
        raise NotFound(f"case {instance_id} has no evidence {sha256}; see GET "
                       f"/api/v1/workflows/{instance_id}/evidence")
    problem = check_file(row.sha256)
    if problem == "missing":
        raise NotFound(f"the stored file of evidence {sha256} is missing; restore it from backup "
                       "(riskloop audit verify lists every missing file)")
    if problem:
        raise Conflict(f"the stored file of evidence {sha256} was altered ({problem}); restore it "
                       "from backup")
    return row, path_for(row.sha256)


def check_file(sha256: str) -> str | None:
    """None if the stored file hashes to ``sha256``; else ``missing`` or what is wrong."""
    path = path_for(sha256)
    if not path.is_file():
        return "missing"
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    actual = digest.hexdigest()
    return None if actual == sha256 else f"content hashes to {actual}"


@dataclass(frozen=True)
class _Recorded:
    sha256: str
    instance_id: int | None
    filename: str


def _recorded(session: Session, batch: int = 1000) -> Iterator[_Recorded]:
    """Every evidence hash named by the audit trail (the tamper-evident source)."""
    last_id = 0
    while True:
        rows = list(session.execute(
            select(AuditRecord.id, AuditRecord.instance_id, AuditRecord.payload)
            .where(AuditRecord.kind == EVENT, AuditRecord.id > last_id)
            .order_by(AuditRecord.id).limit(batch)
        ))
        if not rows:
            return
        for rid, instance_id, payload in rows:
            last_id = rid
            yield _Recorded(str((payload or {}).get("sha256", "")), instance_id,
                            str((payload or {}).get("filename", "")))


def verify_evidence(session: Session) -> list[str]:
    """Problems with stored evidence: a file recorded in the audit trail (or the evidence
    table) that is missing or whose content no longer matches its SHA-256. Empty if all is well."""
    problems: list[str] = []
    checked: dict[str, str | None] = {}
    seen: set[tuple[int | None, str]] = set()
    table = ((r.sha256, r.instance_id, r.filename) for r in session.execute(
        select(Evidence).order_by(Evidence.id)).scalars())
    trail = ((r.sha256, r.instance_id, r.filename) for r in _recorded(session))
    for source in (trail, table):
        for sha, instance_id, filename in source:
            if (instance_id, sha) in seen:
                continue
            seen.add((instance_id, sha))
            if sha not in checked:
                checked[sha] = check_file(sha) if len(sha) == 64 else "not a SHA-256"
            problem = checked[sha]
            if problem:
                problems.append(f"evidence {sha} ({filename}) of case #{instance_id}: "
                                f"{'file missing at ' + str(path_for(sha)) if problem == 'missing' else problem}")
    return problems
