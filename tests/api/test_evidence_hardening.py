"""Evidence files a hostile or careless uploader sends (issue #15): office documents that are
decompression bombs or not what they claim, and names that would forge a download's headers."""

from __future__ import annotations

import io
import zipfile
from typing import Any

import pytest
from flask import Flask
from werkzeug.http import parse_options_header

from api.extensions import db
from tests.support.app import Api
from tests.support.evidence import PDF, collecting_case, stored_files, upload
from workflow.records.identity import Actor
from workflow.risk.due_diligence import evidence

MIB = 1024 * 1024
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
XLSX = "application/vnd.openxmlformats-officedocument.spreadsheetml.sheet"
ODT = "application/vnd.oasis.opendocument.text"
PNG = b"\x89PNG\r\n\x1a\n" + bytes(100)


def office(parts: dict[str, bytes], big: tuple[str, int] | None = None) -> bytes:
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as archive:
        for name, content in parts.items():
            archive.writestr(name, content)
        if big is not None:
            with archive.open(big[0], "w") as member:
                for _ in range(big[1] // MIB):
                    member.write(b"A" * MIB)
    return buffer.getvalue()


WORD = {
    "[Content_Types].xml": b"<Types/>",
    "_rels/.rels": b"<Relationships/>",
    "word/document.xml": b"<w:document/>",
}
EXCEL = {"[Content_Types].xml": b"<Types/>", "xl/workbook.xml": b"<workbook/>"}


def test_an_office_file_that_is_a_decompression_bomb_is_refused_with_413_and_nothing_is_stored(
    app: Flask, api: Api
) -> None:
    case_id = collecting_case(app, api)
    bomb = office(
        {k: v for k, v in WORD.items() if k != "word/document.xml"},
        big=("word/document.xml", 100 * MIB),
    )
    assert len(bomb) < 512 * 1024
    r = upload(api, "risk1", case_id, bomb, "minutes.docx", DOCX)
    assert r.status_code == 413 and r.mimetype == "application/problem+json", r.get_json()
    assert (
        r.get_json()["member"] == "word/document.xml"
        and "RISKLOOP_ZIP_MAX" in r.get_json()["detail"]
    )
    assert stored_files(app) == []


@pytest.mark.parametrize(
    ("content", "content_type"),
    [
        (b"PK\x03\x04" + b"\x00" * 200, DOCX),  # a zip signature and nothing behind it
        (office(EXCEL), DOCX),  # a workbook declared as a Word document
        (office(WORD), XLSX),  # and the other way round
        (office({"mimetype": b"application/zip", "content.xml": b"<x/>"}), ODT),
    ],
)
def test_an_office_file_that_is_not_what_its_type_says_is_refused_with_415(
    app: Flask, api: Api, content: bytes, content_type: str
) -> None:
    case_id = collecting_case(app, api)
    r = upload(api, "risk1", case_id, content, "f", content_type)
    assert r.status_code == 415 and "content is not" in r.get_json()["detail"], r.get_json()
    assert stored_files(app) == []


def test_real_office_documents_are_accepted(app: Flask, api: Api) -> None:
    case_id = collecting_case(app, api)
    odt = office({"mimetype": ODT.encode(), "content.xml": b"<office:document-content/>"})
    for content, content_type in ((office(WORD), DOCX), (office(EXCEL), XLSX), (odt, ODT)):
        assert upload(api, "risk1", case_id, content, "f", content_type).status_code == 201


def disposition(response: Any) -> dict[str, str]:
    value = response.headers["Content-Disposition"]
    assert "\r" not in value and "\n" not in value
    kind, options = parse_options_header(value)
    assert kind == "attachment"
    return dict(options)


@pytest.mark.parametrize(
    ("uploaded", "content", "content_type", "downloaded"),
    [
        ("report.exe", PDF, "application/pdf", "report.pdf"),
        ("年报 2025.PDF", PDF, "application/pdf", "年报 2025.PDF"),
        ("scan", PNG, "image/png", "scan.png"),
        ("Q3 v1.2", PDF, "application/pdf", "Q3 v1.2.pdf"),
        ("minutes.pdf", office(WORD), DOCX, "minutes.docx"),
    ],
)
def test_a_download_is_named_with_the_extension_of_the_detected_type(
    app: Flask, api: Api, uploaded: str, content: bytes, content_type: str, downloaded: str
) -> None:
    case_id = collecting_case(app, api)
    body = upload(api, "risk1", case_id, content, uploaded, content_type).get_json()
    assert body["filename"] == uploaded  # the audit trail keeps the name it was given
    r = api.get("risk2", body["download"])
    assert r.status_code == 200 and r.mimetype == content_type and r.data == content
    assert disposition(r)["filename"] == downloaded


HOSTILE = 'a"b\\c\r\nSet-Cookie: session=stolen;\x00\x07\u202egpj.exe'


def test_a_hostile_file_name_cannot_forge_headers_of_the_download(app: Flask, api: Api) -> None:
    case_id = collecting_case(app, api)
    with app.app_context():
        row = evidence.attach(
            db.session,
            case_id,
            Actor("risk1", frozenset({"risk_officer"})),
            io.BytesIO(PDF),
            filename=HOSTILE,
            content_type="application/pdf",
        )
        db.session.commit()
        stored_name, sha = row.filename, row.sha256
    assert not any(ch in stored_name for ch in "\r\n\x00\x07\u202e")
    r = api.get("risk2", f"/api/v1/workflows/{case_id}/evidence/{sha}")
    assert r.status_code == 200 and r.data == PDF
    assert "Set-Cookie" not in r.headers
    name = disposition(r)["filename"]
    assert name.endswith(".pdf") and not any(ch in name for ch in '"\\\r\n\x00\u202e')


def test_a_hostile_name_stored_before_this_check_still_downloads_safely(
    app: Flask, api: Api
) -> None:
    case_id = collecting_case(app, api)
    sha = upload(api, "risk1", case_id).get_json()["sha256"]
    with app.app_context():
        row = db.session.query(evidence.Evidence).filter_by(sha256=sha).one()
        row.filename = HOSTILE.replace("\x00", "")  # PostgreSQL would not store NUL
        db.session.commit()
    r = api.get("risk2", f"/api/v1/workflows/{case_id}/evidence/{sha}")
    assert r.status_code == 200 and "Set-Cookie" not in r.headers
    assert disposition(r)["filename"].endswith(".pdf")
