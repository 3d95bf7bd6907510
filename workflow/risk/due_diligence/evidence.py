"""Evidence files of a case (stored by ``workflow.platform.filestore``): due-diligence material and
the proof attached to an alert's rectification.

Each upload is an ``evidence.uploaded`` record on the case's audit chain carrying
the hash, so :func:`verify_evidence` can report a file that went missing or was
altered on disk. Which cases take files, from whom and in which states is
:data:`POLICIES`, one entry per definition.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import IO

from sqlalchemy import BigInteger, DateTime, Index, String, UniqueConstraint, and_, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflow.engine import runtime, visibility
from workflow.errors import Conflict, Forbidden, IllegalState, NotFound
from workflow.platform import clock
from workflow.platform.db import Base, BigId
from workflow.platform.filestore import (  # noqa: F401  (re-exported: the storage of this feature)
    ALLOWED_TYPES,
    DEFAULT_MAX_BYTES,
    check_content_type,
    check_file,
    clean_filename,
    download_name,
    evidence_dir,
    max_bytes,
    path_for,
    store_file,
    sweep_partial_uploads,
)
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance
from workflow.risk.clients.model import Client
from workflow.risk.policy import POLICY

log = logging.getLogger(__name__)

EVENT = "evidence.uploaded"
UPLOADER_ROLES = frozenset({"risk_officer", "manager"})
# Evidence is part of the risk report, which sales never sees; an uploader
# may always fetch back the file they uploaded.
READER_ROLES = POLICY.see_all
OPEN_STATES = ("opened", "collecting")


@dataclass(frozen=True)
class Policy:
    """Who may add files to a case of one definition, and while it is in which states."""

    uploader_roles: frozenset[str]
    open_states: tuple[str, ...]
    # Roles that upload only to the cases assigned to them (legal, on the alerts it owns).
    assignee_roles: frozenset[str] = frozenset()

    def uploads(self, instance: WorkflowInstance, actor: Actor) -> bool:
        return actor.has_any(self.uploader_roles) or (
            actor.has_any(self.assignee_roles) and actor.username in (instance.assignees or [])
        )


POLICIES = {
    "due_diligence": Policy(UPLOADER_ROLES, OPEN_STATES),
    # The assignee (usually the client's sales owner) attaches the proof of rectification
    # while the alert is responded; `assignee_only` on `rectify` still decides who fires it.
    "alert_remediation": Policy(
        frozenset({"sales", "risk_officer", "manager"}), ("responded",), frozenset({"legal"})
    ),
}
DEFINITIONS = tuple(POLICIES)


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


def _load_case(session: Session, instance_id: int, actor: Actor, *, lock: bool) -> WorkflowInstance:
    query = select(WorkflowInstance).where(WorkflowInstance.id == instance_id)
    if lock:  # the audit chain head lives on the instance row
        query = query.with_for_update().execution_options(populate_existing=True)
    instance = session.execute(query).scalar_one_or_none()
    instance = visibility.require_view(
        session, instance, actor, runtime.of(session).catalog, instance_id
    )
    if instance.definition not in POLICIES:
        raise Conflict(
            f"case {instance_id} is a {instance.definition}; evidence files belong to "
            f"cases of {', '.join(POLICIES)}"
        )
    return instance


def accepts_uploads(instance: WorkflowInstance, actor: Actor) -> bool:
    """Whether ``actor`` may add evidence to the (visible) case now; :func:`attach` decides."""
    policy = POLICIES.get(instance.definition)
    return (
        policy is not None
        and policy.uploads(instance, actor)
        and instance.state in policy.open_states
    )


def uploadable_case(session: Session, instance_id: int, actor: Actor) -> WorkflowInstance:
    """The case ``actor`` may add evidence to (before the file is read).

    Raises:
        NotFound: no such case visible to ``actor``.
        Conflict: the case's definition takes no evidence files.
        Forbidden: ``actor`` lacks the uploader roles of the case's definition.
    """
    instance = _load_case(session, instance_id, actor, lock=False)
    policy = POLICIES[instance.definition]
    if not policy.uploads(instance, actor):
        raise Forbidden(
            f"evidence of a {instance.definition} case is uploaded by "
            f"{', '.join(sorted(policy.uploader_roles))}",
            rule="role",
            code="evidence.role",
            params={"roles": sorted(policy.uploader_roles)},
        )
    return instance


def attach(
    session: Session,
    instance_id: int,
    actor: Actor,
    stream: IO[bytes],
    *,
    filename: str,
    content_type: str | None,
    request_id: str | None = None,
) -> Evidence:
    """Store an evidence file on a due-diligence case and record its hash in the audit trail.

    Raises:
        NotFound: no such case visible to ``actor``.
        Forbidden: ``actor`` lacks the uploader roles of the case's definition
            (due diligence: risk officers or managers).
        Conflict: the case's definition takes no evidence files.
        IllegalState: the case is no longer collecting evidence.
        UnsupportedMediaType, PayloadTooLarge: the file is refused (nothing is stored).
    """
    first = uploadable_case(session, instance_id, actor)
    policy = POLICIES[first.definition]
    content_type = check_content_type(content_type)
    # Checked before the upload streams in (no row lock held meanwhile), again under the lock.
    _check_open(first, policy)
    sha, size = store_file(runtime.of(session).settings, stream, content_type=content_type)
    instance = _load_case(session, instance_id, actor, lock=True)
    _check_open(instance, policy)
    existing = session.execute(
        select(Evidence).where(Evidence.instance_id == instance_id, Evidence.sha256 == sha)
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    now = clock.now()
    name = clean_filename(filename)[:255] or sha
    row = Evidence(
        instance_id=instance_id,
        sha256=sha,
        filename=name,
        content_type=content_type,
        size=size,
        uploaded_by=actor.username,
        uploaded_at=now,
    )
    session.add(row)
    entry = {"sha256": sha, "filename": name, "content_type": content_type, "size": size}
    instance.data = {
        **instance.data,
        "evidence": [
            *instance.data.get("evidence", []),
            {**entry, "by": actor.username, "at": clock.isoformat(now)},
        ],
    }
    instance.updated_at = now
    audit.append(
        session,
        instance,
        audit.instance_stream(instance.id),
        EVENT,
        actor,
        at=now,
        instance_id=instance.id,
        subject=f"{instance.subject_type}:{instance.subject_id}",
        definition=instance.definition,
        definition_version=instance.definition_version,
        payload=entry,
        request_id=request_id,
    )
    return row


def _check_open(instance: WorkflowInstance, policy: Policy) -> None:
    if instance.state not in policy.open_states:
        raise IllegalState(
            f"case {instance.id} is {instance.state!r}; evidence is added while it is "
            f"{' or '.join(policy.open_states)}"
            + (
                " (a reviewer may send it back to collecting)"
                if instance.definition == "due_diligence"
                else ""
            ),
            state=instance.state,
            code="evidence.closed",
            params={"state": instance.state, "states": list(policy.open_states)},
        )


def _require_reader(actor: Actor) -> None:
    if not actor.has_any(READER_ROLES):
        raise Forbidden(
            "evidence files are part of the risk report, readable by risk officers, "
            "legal, managers and auditors",
            rule="role",
        )


def listable_case(
    session: Session, instance_id: int, actor: Actor, *, own_only: bool = False
) -> WorkflowInstance:
    """The case whose evidence ``actor`` may list (their own uploads only, with ``own_only``).

    Raises:
        NotFound: no such case visible to ``actor``.
        Forbidden: not a reader of evidence (unless ``own_only``).
    """
    instance = visibility.require_view(
        session,
        session.get(WorkflowInstance, instance_id),
        actor,
        runtime.of(session).catalog,
        instance_id,
    )
    if not own_only:
        _require_reader(actor)
    return instance


def list_for(
    session: Session,
    instance_id: int,
    actor: Actor,
    *,
    after: int = 0,
    limit: int = 50,
    own_only: bool = False,
) -> list[Evidence]:
    """Evidence of a case visible to ``actor``, oldest first from id ``after``; with
    ``own_only`` someone who is not a reader gets their own uploads instead of a refusal."""
    instance = listable_case(session, instance_id, actor, own_only=own_only)
    query = select(Evidence).where(Evidence.instance_id == instance.id, Evidence.id > after)
    if own_only and not actor.has_any(READER_ROLES):
        query = query.where(Evidence.uploaded_by == actor.username)
    return list(session.execute(query.order_by(Evidence.id).limit(limit)).scalars())


def downloadable_file(
    session: Session, instance_id: int, sha256: str, actor: Actor
) -> Evidence | None:
    """The evidence row ``actor`` may download, None if the case has no such file (for a
    reader: to others, a file they did not upload is refused either way).

    Raises:
        NotFound: no such case visible to ``actor``.
        Forbidden: neither a reader of evidence nor the file's uploader.
    """
    instance = visibility.require_view(
        session,
        session.get(WorkflowInstance, instance_id),
        actor,
        runtime.of(session).catalog,
        instance_id,
    )
    row = session.execute(
        select(Evidence).where(
            Evidence.instance_id == instance.id, Evidence.sha256 == sha256.lower()
        )
    ).scalar_one_or_none()
    if row is None or row.uploaded_by != actor.username:
        _require_reader(actor)
    return row


def open_for_download(
    session: Session, instance_id: int, sha256: str, actor: Actor
) -> tuple[Evidence, Path]:
    """The evidence row and its verified file, for an actor who may read the case.

    Raises:
        NotFound: no such case or file on it, or the stored file is missing.
        Conflict: the stored file no longer matches its hash (altered on disk).
    """
    row = downloadable_file(session, instance_id, sha256, actor)
    if row is None:
        raise NotFound(
            f"case {instance_id} has no evidence {sha256}; see GET "
            f"/api/v1/workflows/{instance_id}/evidence"
        )
    if row.instance_id in erased_cases(session):
        raise NotFound(
            f"evidence {sha256} of case {instance_id} was erased with its client's personal "
            "data (PIPL)",
            code="evidence.erased",
            params={"case_id": instance_id},
        )
    problem = check_file(runtime.of(session).settings, row.sha256)
    if problem == "missing":
        raise NotFound(
            f"the stored file of evidence {sha256} is missing; restore it from backup "
            "(riskloop audit verify lists every missing file)"
        )
    if problem:
        raise Conflict(
            f"the stored file of evidence {sha256} was altered ({problem}); restore it from backup"
        )
    return row, path_for(runtime.of(session).settings, row.sha256)


def erased_cases(session: Session) -> set[int]:
    """The ids of the cases on erased clients (whose evidence files were deleted)."""
    return set(
        session.execute(
            select(WorkflowInstance.id)
            .join(
                Client,
                and_(
                    WorkflowInstance.subject_type == "client",
                    WorkflowInstance.subject_id == Client.id,
                ),
            )
            .where(Client.erased_at.is_not(None))
        ).scalars()
    )


def shred_client_files(session: Session, client_id: int) -> int:
    """Delete from the evidence store the files of an erased client's cases that no case of
    another (not erased) client holds too; returns how many files were deleted."""
    erased = erased_cases(session)
    cases = select(WorkflowInstance.id).where(
        WorkflowInstance.subject_type == "client", WorkflowInstance.subject_id == client_id
    )
    shas = set(
        session.execute(select(Evidence.sha256).where(Evidence.instance_id.in_(cases))).scalars()
    )
    kept = {
        sha
        for sha, instance_id in session.execute(
            select(Evidence.sha256, Evidence.instance_id).where(Evidence.sha256.in_(shas))
        )
        if instance_id not in erased
    }
    settings = runtime.of(session).settings
    deleted = 0
    for sha in sorted(shas - kept):
        path = path_for(settings, sha)
        if path.is_file():
            path.unlink()
            deleted += 1
    return deleted


@dataclass(frozen=True)
class _Recorded:
    sha256: str
    instance_id: int | None
    filename: str


def _recorded(session: Session, batch: int = 1000) -> Iterator[_Recorded]:
    """Every evidence hash named by the audit trail (the tamper-evident source)."""
    last_id = 0
    while True:
        rows = list(
            session.execute(
                select(AuditRecord.id, AuditRecord.instance_id, AuditRecord.payload)
                .where(AuditRecord.kind == EVENT, AuditRecord.id > last_id)
                .order_by(AuditRecord.id)
                .limit(batch)
            )
        )
        if not rows:
            return
        for rid, instance_id, payload in rows:
            last_id = rid
            yield _Recorded(
                str((payload or {}).get("sha256", "")),
                instance_id,
                str((payload or {}).get("filename", "")),
            )


def verify_evidence(session: Session) -> list[str]:
    """Problems with stored evidence: a file recorded in the audit trail (or the evidence
    table) that is missing or whose content no longer matches its SHA-256. Empty if all is well."""
    settings = runtime.of(session).settings
    problems: list[str] = []
    checked: dict[str, str | None] = {}
    # the files of an erased client's cases were deleted on purpose (the trail keeps the hashes)
    seen: set[tuple[int | None, str]] = set()
    erased = erased_cases(session)
    table = (
        (r.sha256, r.instance_id, r.filename)
        for r in session.execute(select(Evidence).order_by(Evidence.id)).scalars()
    )
    trail = ((r.sha256, r.instance_id, r.filename) for r in _recorded(session))
    for source in (trail, table):
        for sha, instance_id, filename in source:
            if (instance_id, sha) in seen or instance_id in erased:
                continue
            seen.add((instance_id, sha))
            if sha not in checked:
                checked[sha] = check_file(settings, sha) if len(sha) == 64 else "not a SHA-256"
            problem = checked[sha]
            if problem:
                problems.append(
                    f"evidence {sha} ({filename}) of case #{instance_id}: "
                    f"{'file missing at ' + str(path_for(settings, sha)) if problem == 'missing' else problem}"
                )
    return problems
