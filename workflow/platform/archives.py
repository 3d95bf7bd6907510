"""Zip containers that come from outside (XLSX imports, Office and OpenDocument evidence),
measured before anything unpacks them.

A few hundred kilobytes of deflate can unpack to gigabytes. :func:`check_zip` reads
the central directory's size before :mod:`zipfile` parses it, checks every member's
declared size and compression ratio against :class:`Limits`, and then unpacks each
member once, in small pieces, with a hard limit: a member whose data unpacks to
something other than its headers claim is refused as damaged (zipfile checks the
CRC), so a parser reading the archive afterwards (openpyxl) never gets more than was
measured. Only the two methods office files use (stored, deflate) are accepted:
zipfile unpacks bzip2 and LZMA members a whole read at a time, with no bound.

Limits (settings, with their defaults): ``RISKLOOP_ZIP_MAX_MEMBER_BYTES`` (64 MiB
unpacked per member), ``RISKLOOP_ZIP_MAX_TOTAL_BYTES`` (256 MiB for all members),
``RISKLOOP_ZIP_MAX_RATIO`` (100, for members unpacking to more than 1 MiB), and
``RISKLOOP_ZIP_MAX_MEMBERS`` (10,000).
"""

from __future__ import annotations

import struct
import zipfile
from collections.abc import Mapping
from dataclasses import dataclass
from typing import IO, Any

from workflow.errors import PayloadTooLarge, ValidationFailed

MIB = 1024 * 1024
DEFAULT_MAX_MEMBER_BYTES = 64 * MIB
DEFAULT_MAX_TOTAL_BYTES = 256 * MIB
DEFAULT_MAX_RATIO = 100
DEFAULT_MAX_MEMBERS = 10_000
# Small parts (XML of a few kilobytes) compress far better than 100:1 and harm no one.
RATIO_GRACE_BYTES = MIB
# A central directory entry is 46 bytes plus its name and extras; this much per allowed
# member is plenty for real files and bounds what zipfile reads and parses up front.
DIRECTORY_BYTES_PER_MEMBER = 512
CHUNK = 64 * 1024
METHODS = frozenset({zipfile.ZIP_STORED, zipfile.ZIP_DEFLATED})

_EOCD = struct.Struct("<4s4H2LH")
_EOCD64 = struct.Struct("<4sQ2H2L4Q")
_LOCATOR_SIZE = 20


@dataclass(frozen=True)
class Limits:
    """How far an archive from outside may unpack."""

    member_bytes: int = DEFAULT_MAX_MEMBER_BYTES
    total_bytes: int = DEFAULT_MAX_TOTAL_BYTES
    ratio: int = DEFAULT_MAX_RATIO
    members: int = DEFAULT_MAX_MEMBERS

    @classmethod
    def configured(cls, settings: Mapping[str, Any] | None = None) -> Limits:
        """The limits of ``settings`` (the engine object's; defaults where unset or None)."""
        settings = settings or {}
        return cls(
            member_bytes=int(
                settings.get("RISKLOOP_ZIP_MAX_MEMBER_BYTES") or DEFAULT_MAX_MEMBER_BYTES
            ),
            total_bytes=int(
                settings.get("RISKLOOP_ZIP_MAX_TOTAL_BYTES") or DEFAULT_MAX_TOTAL_BYTES
            ),
            ratio=int(settings.get("RISKLOOP_ZIP_MAX_RATIO") or DEFAULT_MAX_RATIO),
            members=int(settings.get("RISKLOOP_ZIP_MAX_MEMBERS") or DEFAULT_MAX_MEMBERS),
        )


def check_zip(source: IO[bytes], what: str, limits: Limits | None = None) -> list[str]:
    """Measure the zip in the seekable ``source`` (``what`` names it in messages); returns
    its member names. ``source`` is left at its start.

    Raises:
        PayloadTooLarge: too many members, or a member (or all of them) would unpack beyond
            the limits, or at a ratio beyond the limit (``extra``: ``limit``, ``member``).
        ValidationFailed: not a readable zip, a member's data does not match its headers,
            an encrypted member, or a compression method other than stored or deflate.
    """
    limits = limits or Limits()
    try:
        _check_directory(source, what, limits)
        source.seek(0)
        with zipfile.ZipFile(source) as archive:
            members = archive.infolist()
            _check_declared(members, what, limits)
            for info in members:
                _unpack_bounded(archive, info, what, min(info.file_size, limits.member_bytes))
    except (
        zipfile.BadZipFile,
        zipfile.LargeZipFile,
        EOFError,
        OSError,
        RuntimeError,
        NotImplementedError,
        ValueError,
        struct.error,
    ) as exc:
        raise _unreadable(what, str(exc) or type(exc).__name__) from exc
    finally:
        source.seek(0)
    return [info.filename for info in members]


def _unreadable(what: str, reason: str) -> ValidationFailed:
    return ValidationFailed(
        f"{what} is not a readable zip container (damaged, encrypted or of "
        f"another kind: {reason}); save it again from its application",
        errors={"file": [f"Unreadable: {reason}"]},
    )


def _too_large(
    what: str, reason: str, setting: str, limit: int, member: str | None
) -> PayloadTooLarge:
    return PayloadTooLarge(
        f"{what} is refused: {reason}; this protects the server from "
        f"decompression bombs (the limit is {setting})",
        limit=limit,
        member=member,
    )


def _check_directory(source: IO[bytes], what: str, limits: Limits) -> None:
    """The central directory's member count and size, as zipfile will read them, before it does."""
    source.seek(0, 2)
    size = source.tell()
    tail_size = min(size, _EOCD.size + 0xFFFF)
    source.seek(size - tail_size)
    tail = source.read(tail_size)
    at = tail.rfind(b"PK\x05\x06")
    if at < 0 or len(tail) - at < _EOCD.size:
        raise _unreadable(what, "no end of central directory")
    fields = _EOCD.unpack_from(tail, at)
    entries, directory_bytes = fields[4], fields[5]
    locator_at = at - _LOCATOR_SIZE
    if locator_at >= _EOCD64.size and tail[locator_at : locator_at + 4] == b"PK\x06\x07":
        record = _EOCD64.unpack_from(tail, locator_at - _EOCD64.size)
        if record[0] == b"PK\x06\x06":
            entries, directory_bytes = record[7], record[8]
    budget = limits.members * DIRECTORY_BYTES_PER_MEMBER
    if entries > limits.members or directory_bytes > budget:
        raise _too_large(
            what,
            f"it holds more than {limits.members} members",
            "RISKLOOP_ZIP_MAX_MEMBERS",
            limits.members,
            None,
        )


def _check_declared(members: list[zipfile.ZipInfo], what: str, limits: Limits) -> None:
    if len(members) > limits.members:
        raise _too_large(
            what,
            f"it holds {len(members)} members, more than {limits.members}",
            "RISKLOOP_ZIP_MAX_MEMBERS",
            limits.members,
            None,
        )
    total = 0
    for info in members:
        if info.compress_type not in METHODS:
            raise _unreadable(
                what,
                f"member {info.filename} uses compression method "
                f"{info.compress_type}, not stored or deflate",
            )
        if info.flag_bits & 0x1:
            raise _unreadable(what, f"member {info.filename} is encrypted")
        if info.file_size > limits.member_bytes:
            raise _too_large(
                what,
                f"member {info.filename} unpacks to {info.file_size} bytes, more "
                f"than {limits.member_bytes}",
                "RISKLOOP_ZIP_MAX_MEMBER_BYTES",
                limits.member_bytes,
                info.filename,
            )
        if info.file_size > RATIO_GRACE_BYTES and info.file_size > limits.ratio * max(
            info.compress_size, 1
        ):
            raise _too_large(
                what,
                f"member {info.filename} unpacks {info.file_size // max(info.compress_size, 1)} "
                f"times its packed size, more than {limits.ratio}",
                "RISKLOOP_ZIP_MAX_RATIO",
                limits.ratio,
                info.filename,
            )
        total += info.file_size
        if total > limits.total_bytes:
            raise _too_large(
                what,
                f"its members unpack to more than {limits.total_bytes} bytes",
                "RISKLOOP_ZIP_MAX_TOTAL_BYTES",
                limits.total_bytes,
                info.filename,
            )


def _unpack_bounded(archive: zipfile.ZipFile, info: zipfile.ZipInfo, what: str, limit: int) -> None:
    """Unpack one member in pieces, never past ``limit`` bytes; zipfile checks its CRC at the end."""
    unpacked = 0
    with archive.open(info) as member:
        while piece := member.read(CHUNK):
            unpacked += len(piece)
            if unpacked > limit:
                raise _unreadable(
                    what,
                    f"member {info.filename} unpacks to more than its "
                    f"headers say ({info.file_size} bytes)",
                )
    if unpacked != info.file_size:
        raise _unreadable(
            what,
            f"member {info.filename} unpacks to {unpacked} bytes, not the "
            f"{info.file_size} its headers say",
        )
