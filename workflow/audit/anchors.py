"""Checkpoint anchors: a copy of every checkpoint's signature kept outside the database.

A checkpoint proves what the trail held only while the checkpoint is still
there. With write access to the database one can delete the newest checkpoints
together with the streams they signed, or delete them all and let the next
checkpoint sign a rewritten trail; what is left is self-consistent. So every
checkpoint, once committed, is also appended as one JSON line to an anchor file
(``RISKLOOP_AUDIT_ANCHOR_FILE``, by default ``audit-anchors.log`` in the
instance folder), and verification checks that each anchored checkpoint is
still in the database with the same HMAC.

The file is opened ``O_APPEND`` and each line is one ``write`` followed by
``fsync``, so several processes (gunicorn workers, workers, schedulers) may
append to it at once. Lines keep ``seq`` and ``hmac`` (what is compared) and the
rest of what the checkpoint signed, for an investigator.
"""

from __future__ import annotations

import json
import logging
import os
import re
from collections.abc import Iterator, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import Session

from workflow.engine import runtime

log = logging.getLogger(__name__)

SETTING = "RISKLOOP_AUDIT_ANCHOR_FILE"
FILE_MODE = 0o600
_PENDING_KEY = "riskloop.anchors.pending"
_DONE_KEY = "riskloop.anchors.done"
_HMAC = re.compile(r"^[0-9a-f]{64}$")


@dataclass(frozen=True)
class Anchor:
    """One anchored checkpoint: its sequence number and HMAC, and where it was read."""

    seq: int
    hmac: str
    line: int = 0


class UnreadableAnchor(ValueError):
    """Raised when a line of an anchor file is not a checkpoint anchor."""

    def __init__(self, path: Path, line: int, why: str) -> None:
        super().__init__(
            f"{path.name} line {line} is not a checkpoint anchor ({why}): the file "
            "was altered or a write was cut short; compare it with the copies "
            "kept elsewhere"
        )
        self.line = line


def anchor_line(fields: dict[str, Any]) -> str:
    """The anchor file's line for a checkpoint (compact JSON, ``seq`` first)."""
    ordered = {"seq": fields["seq"], **{k: v for k, v in fields.items() if k != "seq"}}
    return json.dumps(ordered, separators=(",", ":"), ensure_ascii=False)


def configured_file(settings: Mapping[str, Any]) -> Path | None:
    """The anchor file of ``settings`` (the engine object's), if one is configured."""
    value = settings.get(SETTING)
    return Path(str(value)) if value else None


def default_file(settings: Mapping[str, Any]) -> Path | None:
    """The configured anchor file when it exists (what verification compares by default)."""
    path = configured_file(settings)
    return path if path is not None and path.is_file() else None


def append_after_commit(session: Session, seq: int, line: str) -> None:
    """Append ``line`` to the configured anchor file once the session's transaction commits
    (a checkpoint rolled back is never anchored)."""
    found = session.info.get(runtime.SESSION_KEY)  # a bare session has no anchor file
    path = configured_file(found.settings) if isinstance(found, runtime.Runtime) else None
    if path is not None:
        session.info.setdefault(_PENDING_KEY, []).append((path, seq, line))


def appended(session: Session, seq: int) -> Path | None:
    """Where checkpoint ``seq`` was anchored by this session's last commit (None: it was not)."""
    return dict(session.info.get(_DONE_KEY, {})).get(seq)


@event.listens_for(Session, "after_commit")
def _after_commit(session: Session) -> None:
    pending = session.info.pop(_PENDING_KEY, None)
    if not pending:
        return
    done: dict[int, Path] = {}
    for path, seq, line in pending:
        try:
            append(path, line)
        except OSError as exc:
            log.error(
                "audit checkpoint %d is committed but could not be appended to the anchor "
                "file %s (%s); keep this line elsewhere: %s",
                seq,
                path,
                exc,
                line,
            )
            continue
        done[seq] = path
        log.info("audit checkpoint %d anchored in %s", seq, path)
    session.info[_DONE_KEY] = done


@event.listens_for(Session, "after_rollback")
def _after_rollback(session: Session) -> None:
    session.info.pop(_PENDING_KEY, None)


def append(path: Path, line: str) -> None:
    """Append one line, created owner-only, and wait until it is on disk.

    Raises:
        OSError: the file or its folder cannot be written.
    """
    data = (line.rstrip("\n") + "\n").encode("utf-8")
    created = not path.exists()
    fd = os.open(path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, FILE_MODE)
    try:
        written = os.write(fd, data)  # one write: appends of other processes never interleave
        if written != len(data):
            raise OSError(f"short write ({written} of {len(data)} bytes)")
        os.fsync(fd)
    finally:
        os.close(fd)
    if created:
        _sync_folder(path.parent)


def _sync_folder(folder: Path) -> None:
    try:
        fd = os.open(folder, os.O_RDONLY)
    except OSError:
        return
    try:
        os.fsync(fd)
    except OSError:
        pass  # some file systems refuse fsync on a folder
    finally:
        os.close(fd)


def read(path: Path) -> Iterator[Anchor]:
    """The anchors in ``path``, in file order; blank lines and ``#`` comments are skipped.

    Raises:
        UnreadableAnchor: a line is not a JSON object with a positive ``seq`` and a hex ``hmac``.
    """
    with path.open("r", encoding="utf-8", errors="replace") as fh:
        for number, text in enumerate(fh, start=1):
            text = text.strip()
            if not text or text.startswith("#"):
                continue
            yield parse(path, number, text)


def parse(path: Path, number: int, text: str) -> Anchor:
    """Raises:
    UnreadableAnchor: ``text`` is not an anchor line."""
    try:
        fields = json.loads(text)
    except ValueError as exc:
        raise UnreadableAnchor(path, number, "not JSON") from exc
    if not isinstance(fields, dict):
        raise UnreadableAnchor(path, number, "not a JSON object")
    seq, signature = fields.get("seq"), fields.get("hmac")
    if not isinstance(seq, int) or isinstance(seq, bool) or seq < 1:
        raise UnreadableAnchor(path, number, "no positive seq")
    if not isinstance(signature, str) or not _HMAC.match(signature):
        raise UnreadableAnchor(path, number, "no 64-digit hex hmac")
    return Anchor(seq, signature, number)
