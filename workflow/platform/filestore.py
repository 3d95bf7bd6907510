"""Evidence file storage: content-addressed by SHA-256, written atomically.

A file is streamed to a temporary file in ``RISKLOOP_EVIDENCE_DIR`` while it is
hashed and measured, then renamed to ``<dir>/<sha[:2]>/<sha256>``: an upload that
fails midway (too large, connection lost) leaves no partial file, and temporary
files of a killed process are swept by a later upload.

The declared type must be borne out by the bytes: the first bytes for every type, and
for the zip-based office formats the container itself, measured by
:mod:`workflow.platform.archives` (a decompression bomb is refused) and holding that format's
parts (a workbook declared as a Word document is refused). A download is named with
the extension of that type (:func:`download_name`).
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import time
import unicodedata
import zipfile
from collections.abc import Mapping
from datetime import timedelta
from pathlib import Path
from typing import IO, Any

from workflow.errors import (
    ConfigurationError,
    PayloadTooLarge,
    UnsupportedMediaType,
    ValidationFailed,
)
from workflow.platform.archives import Limits, check_zip

log = logging.getLogger(__name__)

DEFAULT_MAX_BYTES = 20 * 1024 * 1024
CHUNK = 64 * 1024
_TMP_PREFIX = ".upload-"
# PDF, images and office documents (Microsoft and OpenDocument formats).
ALLOWED_TYPES = frozenset(
    {
        "application/pdf",
        "image/png",
        "image/jpeg",
        "image/gif",
        "image/webp",
        "image/tiff",
        "image/bmp",
        "application/msword",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "application/vnd.ms-excel",
        "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet",
        "application/vnd.ms-powerpoint",
        "application/vnd.openxmlformats-officedocument.presentationml.presentation",
        "application/vnd.oasis.opendocument.text",
        "application/vnd.oasis.opendocument.spreadsheet",
        "application/vnd.oasis.opendocument.presentation",
    }
)


def evidence_dir(settings: Mapping[str, Any]) -> Path:
    """The folder ``settings`` name (``RISKLOOP_EVIDENCE_DIR``).

    Raises:
        ConfigurationError: ``RISKLOOP_EVIDENCE_DIR`` is not configured."""
    folder = settings.get("RISKLOOP_EVIDENCE_DIR")
    if not folder:
        raise ConfigurationError(
            "RISKLOOP_EVIDENCE_DIR is not set; point it at a writable folder "
            "(the app defaults it to <instance folder>/evidence)"
        )
    return Path(str(folder))


def max_bytes(settings: Mapping[str, Any]) -> int:
    return int(settings.get("RISKLOOP_EVIDENCE_MAX_BYTES", DEFAULT_MAX_BYTES))


def path_for(settings: Mapping[str, Any], sha256: str) -> Path:
    return evidence_dir(settings) / sha256[:2] / sha256


def check_content_type(content_type: str | None) -> str:
    """Raises:
    UnsupportedMediaType: not a PDF, image or office document."""
    base = (content_type or "").split(";", 1)[0].strip().lower()
    if base not in ALLOWED_TYPES:
        raise UnsupportedMediaType(
            f"evidence of type {base or 'unknown'!r} is not accepted; upload a PDF, an image "
            "(PNG, JPEG, GIF, WebP, TIFF, BMP) or an office document (Word, Excel, PowerPoint, "
            "OpenDocument)",
            allowed=sorted(ALLOWED_TYPES),
        )
    return base


_OLE2 = (b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1",)  # Word, Excel, PowerPoint 97-2003
_ZIP = (b"PK\x03\x04",)  # Office Open XML and OpenDocument are zip containers
# How files of each accepted type begin (their "magic numbers").
SIGNATURES: dict[str, tuple[bytes, ...]] = {
    "application/pdf": (b"%PDF",),  # anywhere in the first 1,024 bytes, as readers accept
    "image/png": (b"\x89PNG\r\n\x1a\n",),
    "image/jpeg": (b"\xff\xd8\xff",),
    "image/gif": (b"GIF87a", b"GIF89a"),
    "image/webp": (b"RIFF",),  # and "WEBP" at offset 8, checked below
    "image/tiff": (b"II*\x00", b"MM\x00*"),
    "image/bmp": (b"BM",),
    "application/msword": _OLE2,
    "application/vnd.ms-excel": _OLE2,
    "application/vnd.ms-powerpoint": _OLE2,
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": _ZIP,
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": _ZIP,
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": _ZIP,
    "application/vnd.oasis.opendocument.text": _ZIP,
    "application/vnd.oasis.opendocument.spreadsheet": _ZIP,
    "application/vnd.oasis.opendocument.presentation": _ZIP,
}
_HEAD = 1024
# Where the zip-based formats keep their parts: Office Open XML's main part folder;
# OpenDocument names its type in its ``mimetype`` member.
_OOXML_FOLDERS = {
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": "word/",
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": "xl/",
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": "ppt/",
}
# The extension a download of each type is named with (the first), and others of that type.
EXTENSIONS: dict[str, tuple[str, ...]] = {
    "application/pdf": (".pdf",),
    "image/png": (".png",),
    "image/jpeg": (".jpg", ".jpeg", ".jpe"),
    "image/gif": (".gif",),
    "image/webp": (".webp",),
    "image/tiff": (".tif", ".tiff"),
    "image/bmp": (".bmp",),
    "application/msword": (".doc", ".dot"),
    "application/vnd.ms-excel": (".xls", ".xlt"),
    "application/vnd.ms-powerpoint": (".ppt", ".pps", ".pot"),
    "application/vnd.openxmlformats-officedocument.wordprocessingml.document": (".docx",),
    "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet": (".xlsx",),
    "application/vnd.openxmlformats-officedocument.presentationml.presentation": (".pptx",),
    "application/vnd.oasis.opendocument.text": (".odt",),
    "application/vnd.oasis.opendocument.spreadsheet": (".ods",),
    "application/vnd.oasis.opendocument.presentation": (".odp",),
}
# A suffix that reads as a file type (".exe", ".pdf"), not part of a name ("v1.2").
_SUFFIX = re.compile(r"\.[A-Za-z][A-Za-z0-9]{0,7}")
# Control, format (bidirectional overrides such as U+202E) and line-separator characters.
_UNSAFE_CATEGORIES = frozenset({"Cc", "Cf", "Zl", "Zp"})


def _not_of_type(content_type: str, reason: str = "") -> UnsupportedMediaType:
    return UnsupportedMediaType(
        f"the file's content is not {content_type}, as its type says{': ' + reason if reason else ''}; "
        "upload the document itself (a renamed file of another kind is refused)",
        allowed=sorted(ALLOWED_TYPES),
    )


def check_signature(content_type: str, head: bytes) -> None:
    """Raises:
    UnsupportedMediaType: the file's first bytes are not those of ``content_type`` (an
        executable or script renamed ``.pdf``, say)."""
    starts = SIGNATURES.get(content_type, ())
    ok = any(head.startswith(sig) for sig in starts)
    if content_type == "application/pdf":
        ok = b"%PDF" in head
    if ok and content_type == "image/webp":
        ok = head[8:12] == b"WEBP"
    if not ok:
        raise _not_of_type(content_type)


def check_container(
    source: IO[bytes], content_type: str, settings: Mapping[str, Any] | None = None
) -> None:
    """For the zip-based office formats: the container is measured before anyone unpacks it
    and holds the parts of ``content_type``; other types pass.

    Raises:
        PayloadTooLarge: it would unpack beyond the ``RISKLOOP_ZIP_MAX_*`` limits.
        UnsupportedMediaType: not a readable zip, or the parts of another format.
    """
    if SIGNATURES.get(content_type) != _ZIP:
        return
    try:
        names = check_zip(
            source, "the file", Limits.configured(settings) if settings is not None else None
        )
    except ValidationFailed as exc:
        raise _not_of_type(content_type, "it is not a readable zip container") from exc
    folder = _OOXML_FOLDERS.get(content_type)
    if folder is not None:
        ok = "[Content_Types].xml" in names and any(n.startswith(folder) for n in names)
    else:  # OpenDocument; the member was measured by check_zip
        with zipfile.ZipFile(source) as archive:
            ok = "mimetype" in names and archive.read("mimetype").strip() == content_type.encode()
        source.seek(0)
    if not ok:
        raise _not_of_type(content_type, "its parts are those of another format")


def clean_filename(filename: str) -> str:
    """An uploaded file's name without folders, control, bidirectional-override or
    line-separator characters (which could fake its extension or a header); may be empty."""
    name = filename.replace("\\", "/").rsplit("/", 1)[-1]
    return "".join(ch for ch in name if unicodedata.category(ch) not in _UNSAFE_CATEGORIES).strip()


def download_name(filename: str, content_type: str) -> str:
    """The name to download a stored file by: cleaned, without quotes or backslashes, and
    with the extension of the type its bytes were checked against (``report.exe`` holding a
    PDF downloads as ``report.pdf``)."""
    name = clean_filename(filename).replace('"', "_").replace("\\", "_") or "evidence"
    extensions = EXTENSIONS.get(content_type, ())
    stem, suffix = os.path.splitext(name)
    if not extensions or suffix.lower() in extensions:
        return name
    return (stem if _SUFFIX.fullmatch(suffix) else name) + extensions[0]


def store_file(
    settings: Mapping[str, Any],
    stream: IO[bytes],
    limit: int | None = None,
    content_type: str | None = None,
) -> tuple[str, int]:
    """Copy ``stream`` into the evidence folder of ``settings``; returns (sha256, size).

    Raises:
        PayloadTooLarge: the stream is longer than ``limit`` bytes, or (an office document)
            would unpack beyond the ``RISKLOOP_ZIP_MAX_*`` limits (nothing is kept).
        UnsupportedMediaType: ``content_type`` is given and the content is not of that type
            (its first bytes, or an office document's container; nothing is kept).
    """
    limit = max_bytes(settings) if limit is None else limit
    folder = evidence_dir(settings)
    folder.mkdir(parents=True, exist_ok=True)
    sweep_partial_uploads(folder)
    digest = hashlib.sha256()
    size = 0
    fd, tmp_name = tempfile.mkstemp(prefix=_TMP_PREFIX, dir=folder)
    tmp = Path(tmp_name)
    head = b""
    try:
        with os.fdopen(fd, "wb") as out:
            while chunk := stream.read(CHUNK):
                if len(head) < _HEAD:
                    head += chunk[: _HEAD - len(head)]
                size += len(chunk)
                if size > limit:
                    raise PayloadTooLarge(
                        f"the file is larger than the evidence limit of {limit} bytes; compress or "
                        "split it (the limit is RISKLOOP_EVIDENCE_MAX_BYTES)",
                        limit=limit,
                    )
                digest.update(chunk)
                out.write(chunk)
            out.flush()
            if content_type is not None:
                check_signature(content_type, head)
            os.fsync(out.fileno())
        if content_type is not None:
            with tmp.open("rb") as written:
                check_container(written, content_type, settings)
        sha = digest.hexdigest()
        final = folder / sha[:2] / sha
        final.parent.mkdir(parents=True, exist_ok=True)
        os.replace(tmp, final)
    except BaseException:
        tmp.unlink(missing_ok=True)
        raise
    return sha, size


def sweep_partial_uploads(folder: Path, older_than: timedelta = timedelta(hours=6)) -> int:
    """Delete temporary files left by uploads whose process was killed midway."""
    cutoff = time.time() - older_than.total_seconds()
    removed = 0
    for leftover in folder.glob(f"{_TMP_PREFIX}*"):
        try:
            if leftover.stat().st_mtime < cutoff:
                leftover.unlink()
                removed += 1
        except FileNotFoundError:  # another upload swept it first
            continue
    if removed:
        log.info("removed %d partial upload(s) left by interrupted processes", removed)
    return removed


def check_file(settings: Mapping[str, Any], sha256: str) -> str | None:
    """None if the stored file hashes to ``sha256``; else ``missing`` or what is wrong."""
    path = path_for(settings, sha256)
    if not path.is_file():
        return "missing"
    digest = hashlib.sha256()
    with path.open("rb") as fh:
        while chunk := fh.read(CHUNK):
            digest.update(chunk)
    actual = digest.hexdigest()
    return None if actual == sha256 else f"content hashes to {actual}"
