"""A client's contracts beyond their terms: the signed files (stored like evidence, content
addressed in the evidence folder) and performance notes (履约记录), kept per contract number
and each recorded on the client's audit stream.

The terms themselves (number, amount, start, end) stay in ``clients.contracts`` and change
through ``service.update_client`` like any ordinary field.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import IO, Any

from marshmallow import validate
from sqlalchemy import BigInteger, DateTime, Index, String, Text, select
from sqlalchemy.orm import Mapped, Session, mapped_column

from workflow.engine import runtime
from workflow.errors import Forbidden, NotFound, ValidationFailed
from workflow.field_messages import Schema
from workflow.platform import clock
from workflow.platform.db import Base, BigId
from workflow.platform.filestore import check_content_type, clean_filename, path_for, store_file
from workflow.platform.hygiene import FreeText
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.risk.clients.model import Client, client_stream
from workflow.risk.clients.queries import read_client

# Who adds files and notes: whoever edits the client (sales only their own), and legal.
WRITER_ROLES = frozenset({"sales", "risk_officer", "legal", "manager"})
FILE_ADDED = "contract.file_added"
NOTE_ADDED = "contract.note_added"


class ContractRecord(Base):
    """A file or a performance note of one contract of a client."""

    __tablename__ = "contract_records"
    __table_args__ = (Index("ix_contract_records_client", "client_id", "contract_number"),)

    id: Mapped[int] = mapped_column(BigId, primary_key=True, autoincrement=True)
    client_id: Mapped[int] = mapped_column(BigId)
    contract_number: Mapped[str] = mapped_column(String(64))
    kind: Mapped[str] = mapped_column(String(8))  # file | note
    sha256: Mapped[str | None] = mapped_column(String(64))
    filename: Mapped[str | None] = mapped_column(String(255))
    content_type: Mapped[str | None] = mapped_column(String(128))
    size: Mapped[int | None] = mapped_column(BigInteger)
    text: Mapped[str | None] = mapped_column(Text)
    recorded_by: Mapped[str] = mapped_column(String(64))
    recorded_at: Mapped[datetime] = mapped_column(DateTime, default=clock.now)


class NoteSchema(Schema):
    text = FreeText(required=True, validate=validate.Length(min=1, max=4000))


@dataclass
class ContractFolder:
    """What is kept beside one contract's terms."""

    files: list[ContractRecord] = field(default_factory=list)
    notes: list[ContractRecord] = field(default_factory=list)


def _writable(session: Session, client_id: int, number: str, actor: Actor) -> Client:
    """The client whose contract ``number`` the actor may add to, its row locked.

    Raises:
        Forbidden: a role that keeps no contract, or (sales) another owner's client.
        NotFound: no such client visible to the actor, or no such contract.
    """
    if not actor.has_any(WRITER_ROLES):
        raise Forbidden(
            "adding to a contract needs one of the roles " + ", ".join(sorted(WRITER_ROLES)),
            rule="role",
            code="role.required",
            params={"roles": sorted(WRITER_ROLES)},
        )
    read_client(session, client_id, actor)  # visibility: sales see only their own
    client = session.execute(
        select(Client).where(Client.id == client_id).with_for_update()
    ).scalar_one()
    if not any(str((c or {}).get("number")) == number for c in client.contracts or []):
        raise NotFound(
            f"client {client_id} has no contract {number}",
            code="contract.not_found",
            params={"number": number},
        )
    return client


def attach_file(
    session: Session,
    client_id: int,
    number: str,
    actor: Actor,
    stream: IO[bytes],
    *,
    filename: str,
    content_type: str | None,
) -> ContractRecord:
    """Store a file of contract ``number`` and record its hash on the client's trail.

    Raises:
        Forbidden, NotFound: see :func:`_writable`.
        UnsupportedMediaType, PayloadTooLarge: the file is refused (nothing is kept).
    """
    _writable(session, client_id, number, actor)
    kind = check_content_type(content_type)
    sha, size = store_file(runtime.of(session).settings, stream, content_type=kind)
    existing = session.execute(
        select(ContractRecord).where(
            ContractRecord.client_id == client_id,
            ContractRecord.contract_number == number,
            ContractRecord.sha256 == sha,
        )
    ).scalar_one_or_none()
    if existing is not None:
        return existing
    name = clean_filename(filename)[:255] or sha
    row = ContractRecord(
        client_id=client_id,
        contract_number=number,
        kind="file",
        sha256=sha,
        filename=name,
        content_type=kind,
        size=size,
        recorded_by=actor.username,
        recorded_at=clock.now(),
    )
    session.add(row)
    stream_name = client_stream(client_id)
    audit.record_event(
        session,
        stream_name,
        FILE_ADDED,
        actor,
        subject=stream_name,
        payload={"contract": number, "sha256": sha, "filename": name, "size": size},
    )
    return row


def add_note(
    session: Session, client_id: int, number: str, actor: Actor, text: Any
) -> ContractRecord:
    """Record a performance note (履约记录) of contract ``number``.

    Raises:
        Forbidden, NotFound: see :func:`_writable`.
        ValidationFailed: the text is empty, too long or has forbidden characters.
    """
    _writable(session, client_id, number, actor)
    text = text.strip() if isinstance(text, str) else text
    errors = NoteSchema().validate({"text": text})
    if errors:
        raise ValidationFailed("the note is not valid", errors=errors)
    row = ContractRecord(
        client_id=client_id,
        contract_number=number,
        kind="note",
        text=str(text),
        recorded_by=actor.username,
        recorded_at=clock.now(),
    )
    session.add(row)
    stream_name = client_stream(client_id)
    audit.record_event(
        session,
        stream_name,
        NOTE_ADDED,
        actor,
        subject=stream_name,
        payload={"contract": number, "text": row.text},
    )
    return row


def folders(session: Session, client_id: int, actor: Actor) -> dict[str, ContractFolder]:
    """The files and notes of each contract number of a client the actor may read, newest
    first."""
    read_client(session, client_id, actor)
    found: dict[str, ContractFolder] = {}
    rows = session.execute(
        select(ContractRecord)
        .where(ContractRecord.client_id == client_id)
        .order_by(ContractRecord.id.desc())
    ).scalars()
    for row in rows:
        folder = found.setdefault(row.contract_number, ContractFolder())
        (folder.files if row.kind == "file" else folder.notes).append(row)
    return found


def file_to_download(
    session: Session, client_id: int, sha256: str, actor: Actor
) -> tuple[ContractRecord, Path]:
    """A contract file of a client the actor may read, and where its bytes are.

    Raises:
        Forbidden, NotFound: the client is not readable, or it has no such file.
    """
    read_client(session, client_id, actor)
    row = (
        session.execute(
            select(ContractRecord).where(
                ContractRecord.client_id == client_id,
                ContractRecord.kind == "file",
                ContractRecord.sha256 == sha256,
            )
        )
        .scalars()
        .first()
    )
    if row is None or row.sha256 is None:
        raise NotFound(f"client {client_id} has no contract file {sha256}")
    return row, path_for(runtime.of(session).settings, row.sha256)
