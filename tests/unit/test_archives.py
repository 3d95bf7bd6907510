"""Zip containers from outside are measured before anything unpacks them (issue #15)."""

from __future__ import annotations

import io
import os
import struct
import zipfile

import pytest

from workflow.errors import PayloadTooLarge, ValidationFailed
from workflow.platform.archives import Limits, check_zip

MIB = 1024 * 1024


def zip_of(members: dict[str, bytes], method: int = zipfile.ZIP_DEFLATED) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", method) as archive:
        for name, content in members.items():
            archive.writestr(name, content)
    return buffer.getvalue()


def bomb(size: int, name: str = "xl/sharedStrings.xml") -> bytes:
    """A small zip with one member of ``size`` highly compressible bytes, written in pieces."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        archive.writestr("[Content_Types].xml", b"<Types/>")
        with archive.open(name, "w") as member:
            chunk = b"A" * MIB
            for _ in range(size // MIB):
                member.write(chunk)
    return buffer.getvalue()


def lying(content: bytes, declared: int) -> bytes:
    """A one-member zip whose headers claim the member unpacks to ``declared`` bytes."""
    data = bytearray(zip_of({"xl/worksheets/sheet1.xml": content}))
    local = data.index(b"PK\x03\x04")
    central = data.index(b"PK\x01\x02")
    struct.pack_into("<L", data, local + 22, declared)
    struct.pack_into("<L", data, central + 24, declared)
    return bytes(data)


def test_an_ordinary_workbook_passes_and_its_members_are_named() -> None:
    content = zip_of({"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>" * 100})
    assert check_zip(io.BytesIO(content), "clients.xlsx") == [
        "[Content_Types].xml",
        "xl/workbook.xml",
    ]


def test_a_member_unpacking_far_beyond_its_packed_size_is_refused_by_its_ratio() -> None:
    content = bomb(8 * MIB)
    assert len(content) < 64 * 1024
    with pytest.raises(PayloadTooLarge) as refused:
        check_zip(io.BytesIO(content), "clients.xlsx")
    assert "xl/sharedStrings.xml" in refused.value.detail
    assert "RISKLOOP_ZIP_MAX_RATIO" in refused.value.detail
    assert refused.value.extra["member"] == "xl/sharedStrings.xml"


def test_a_member_larger_than_the_limit_is_refused_even_when_it_compresses_poorly() -> None:
    content = zip_of({"xl/media/image1.png": os.urandom(2 * MIB)})
    with pytest.raises(PayloadTooLarge) as refused:
        check_zip(io.BytesIO(content), "f.xlsx", Limits(member_bytes=MIB))
    assert "RISKLOOP_ZIP_MAX_MEMBER_BYTES" in refused.value.detail
    assert refused.value.extra["limit"] == MIB


def test_members_adding_up_beyond_the_total_limit_are_refused() -> None:
    content = zip_of({f"part{n}.bin": os.urandom(MIB // 2) for n in range(5)})
    check_zip(io.BytesIO(content), "f.docx", Limits(member_bytes=MIB, total_bytes=3 * MIB))
    with pytest.raises(PayloadTooLarge) as refused:
        check_zip(io.BytesIO(content), "f.docx", Limits(member_bytes=MIB, total_bytes=2 * MIB))
    assert "RISKLOOP_ZIP_MAX_TOTAL_BYTES" in refused.value.detail


def test_too_many_members_are_refused_before_the_directory_is_read() -> None:
    content = zip_of({f"m{n}.xml": b"" for n in range(50)})
    check_zip(io.BytesIO(content), "f.xlsx", Limits(members=50))
    with pytest.raises(PayloadTooLarge) as refused:
        check_zip(io.BytesIO(content), "f.xlsx", Limits(members=49))
    assert "RISKLOOP_ZIP_MAX_MEMBERS" in refused.value.detail


def test_a_member_whose_stream_lies_about_its_size_is_refused() -> None:
    """The headers say 1,000 bytes (a harmless ratio); the data unpacks to 4 MiB."""
    content = lying(b"<row/>" * (4 * MIB // 6), declared=1000)
    with zipfile.ZipFile(io.BytesIO(content)) as archive:
        assert archive.infolist()[0].file_size == 1000
    with pytest.raises(ValidationFailed) as refused:
        check_zip(io.BytesIO(content), "clients.xlsx")
    assert "damaged" in refused.value.detail and refused.value.extra["errors"]["file"]


def test_compression_methods_that_unpack_without_a_bound_are_refused() -> None:
    """zipfile inflates bzip2 and LZMA members a whole read at a time; office files use deflate."""
    content = zip_of({"xl/workbook.xml": b"<workbook/>"}, method=zipfile.ZIP_BZIP2)
    with pytest.raises(ValidationFailed) as refused:
        check_zip(io.BytesIO(content), "clients.xlsx")
    assert "compression" in refused.value.detail


@pytest.mark.parametrize("content", [b"", b"PK\x03\x04", b"not a zip at all" * 100])
def test_something_that_is_not_a_zip_is_refused_as_unreadable(content: bytes) -> None:
    with pytest.raises(ValidationFailed) as refused:
        check_zip(io.BytesIO(content), "clients.xlsx")
    assert "clients.xlsx" in refused.value.detail


def test_limits_come_from_the_settings_with_documented_defaults() -> None:
    defaults = Limits.configured()
    assert defaults == Limits()
    assert (defaults.member_bytes, defaults.total_bytes, defaults.ratio, defaults.members) == (
        64 * MIB,
        256 * MIB,
        100,
        10_000,
    )
