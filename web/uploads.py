"""Evidence uploads from console forms, stored by the same service as the API's uploads.

``workflow.risk.due_diligence.evidence.attach`` decides everything (who, which cases and states,
file types, size); this module only hands it the browser's files and words its refusals
for the person at the keyboard.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import IO

from flask import g, request
from flask_babel import gettext as _
from werkzeug.datastructures import FileStorage

from workflow.errors import PayloadTooLarge, UnsupportedMediaType
from workflow.platform.transaction import transact
from workflow.records.identity import Actor
from workflow.risk.due_diligence import evidence

from .database import db, runtime_of
from .i18n import filesize

# Room for the multipart envelope and the other form fields around the files.
ENVELOPE = 64 * 1024


class UploadRefused(Exception):
    """Raised when a file is refused; ``status`` and ``message`` are for the page."""

    def __init__(self, status: int, message: str) -> None:
        super().__init__(message)
        self.status = status
        self.message = message


def allow_upload_bodies() -> None:
    """A form with files may be as large as the evidence limit (plus its envelope)."""
    if request.mimetype == "multipart/form-data":
        request.max_content_length = evidence.max_bytes(runtime_of().settings) + ENVELOPE


def too_large_message() -> str:
    return _(
        "The files sent at once may be at most %(size)s in all; compress or split them, "
        "or upload them one at a time.",
        size=filesize(evidence.max_bytes(runtime_of().settings)),
    )


def chosen(files: list[FileStorage]) -> list[FileStorage]:
    """The files actually picked (an empty file input still sends a nameless part)."""
    return [f for f in files if f.filename]


def store_uploads(instance_id: int, actor: Actor, files: list[FileStorage]) -> list[str]:
    """Attach each file to the case (one transaction per file); their SHA-256s in order.

    Raises:
        UploadRefused: a file is too large or of a type not accepted (nothing of it is kept).
        RiskloopError: ``evidence.attach`` refused the actor or the case's state.
    """
    return store_files(
        files,
        lambda stream, name, content_type: (
            evidence.attach(
                db.session,
                instance_id,
                actor,
                stream,
                filename=name,
                content_type=content_type,
                request_id=g.get("request_id"),
            ).sha256
        ),
    )


def store_files(
    files: list[FileStorage], attach: Callable[[IO[bytes], str, str | None], str]
) -> list[str]:
    """Hand each picked file to ``attach(stream, filename, content_type)`` (one
    transaction per file, which returns its SHA-256); the hashes in order.

    Raises:
        UploadRefused: a file is too large or of a type not accepted (nothing of it is kept).
    """
    hashes: list[str] = []
    for upload in chosen(files):
        name = upload.filename or ""
        try:
            sha = transact(
                db.session,
                lambda upload=upload, name=name: attach(_rewound(upload), name, upload.mimetype),
            )
        except PayloadTooLarge as exc:
            raise UploadRefused(
                413,
                _(
                    "%(name)s is larger than the limit of %(size)s; compress or split it.",
                    name=name,
                    size=filesize(
                        exc.extra.get("limit") or evidence.max_bytes(runtime_of().settings)
                    ),
                ),
            ) from exc
        except UnsupportedMediaType as exc:
            raise UploadRefused(
                415,
                _(
                    "%(name)s is not accepted: upload a PDF, an image or an office document.",
                    name=name,
                ),
            ) from exc
        hashes.append(sha)
    return hashes


def _rewound(upload: FileStorage) -> IO[bytes]:
    """The file from its start: ``transact`` may run the upload again after a race."""
    upload.stream.seek(0)
    return upload.stream
