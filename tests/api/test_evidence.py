"""Evidence files: content-addressed storage, limits, authorisation, audit and verification."""

from __future__ import annotations

import hashlib
import io
import os
import time
import zipfile
from pathlib import Path
from typing import Any

import pytest
from flask import Flask

from api.extensions import db, runtime_of
from tests.support.app import Api
from tests.support.due_diligence import checklist
from tests.support.evidence import PDF, collecting_case, stored_files, upload
from workflow.audit.verification import verify_all
from workflow.errors import PayloadTooLarge
from workflow.risk.due_diligence import evidence


def minimal_docx() -> bytes:
    """The parts a Word document cannot do without (its container is checked, not just "PK")."""
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w") as archive:
        archive.writestr("[Content_Types].xml", "<Types/>")
        archive.writestr("word/document.xml", "<w:document/>")
    return buffer.getvalue()


def test_an_upload_is_stored_by_its_hash_and_recorded_in_the_audit_trail(
    app: Flask, api: Api
) -> None:
    case_id = collecting_case(app, api)
    r = upload(api, "risk1", case_id, filename="../../年报 2025.pdf")
    body = r.get_json()
    sha = hashlib.sha256(PDF).hexdigest()
    assert r.status_code == 201, body
    assert (
        body["sha256"] == sha and body["size"] == len(PDF) and body["filename"] == "年报 2025.pdf"
    )
    assert body["download"] == f"/api/v1/workflows/{case_id}/evidence/{sha}"
    path = Path(app.config["RISKLOOP_EVIDENCE_DIR"]) / sha[:2] / sha
    assert app.config["RISKLOOP_EVIDENCE_DIR"].endswith("/instance/evidence")
    assert stored_files(app) == [path] and path.read_bytes() == PDF
    records = api.get("auditor1", f"/api/v1/workflows/{case_id}/audit").get_json()["items"]
    assert records[-1]["kind"] == "evidence.uploaded" and records[-1]["payload"]["sha256"] == sha
    assert records[-1]["actor"] == "risk1"
    # The same file again is the same evidence: no second row, record or file.
    assert upload(api, "risk1", case_id).get_json()["sha256"] == sha
    assert len(api.get("risk2", f"/api/v1/workflows/{case_id}/evidence").get_json()["items"]) == 1
    assert len(
        api.get("auditor1", f"/api/v1/workflows/{case_id}/audit").get_json()["items"]
    ) == len(records)
    # The trail still verifies and replays, and the checklist may cite the file.
    with app.app_context():
        assert verify_all(db.session).ok
        assert evidence.verify_evidence(db.session) == []
    r = api.act(
        "risk1",
        case_id,
        "submit_for_review",
        checklist=checklist(
            financials={"finding": "audited accounts", "risk": "medium", "evidence": [sha]}
        ),
    )
    assert r.status_code == 200 and r.get_json()["instance"]["data"]["checklist"]["financials"][
        "evidence"
    ] == [sha]
    # Evidence is added only while collecting.
    assert upload(api, "risk1", case_id, b"%PDF other").status_code == 409


def test_download_is_authorised_like_the_case(app: Flask, api: Api) -> None:
    case_id = collecting_case(app, api)
    sha = upload(api, "risk1", case_id).get_json()["sha256"]
    url = f"/api/v1/workflows/{case_id}/evidence/{sha}"
    for user in ("risk2", "manager1", "legal1", "auditor1"):
        r = api.get(user, url)
        assert r.status_code == 200, user
        assert r.data == PDF and r.mimetype == "application/pdf"
        assert "attachment" in r.headers["Content-Disposition"]
    assert api.get(None, url).status_code == 401
    assert api.get("sales2", url).status_code == 404  # cannot see the case at all
    owner = api.get("sales1", url)  # sees the case's outcome, never the risk report
    assert owner.status_code == 403 and owner.get_json()["rule"] == "role"
    assert api.get("sales1", f"/api/v1/workflows/{case_id}/evidence").status_code == 403
    assert api.get("risk1", f"/api/v1/workflows/{case_id}/evidence/{'0' * 64}").status_code == 404
    assert api.get("risk1", f"/api/v1/workflows/999999/evidence/{sha}").status_code == 404


def test_only_risk_officers_and_managers_upload(app: Flask, api: Api) -> None:
    case_id = collecting_case(app, api)
    for user in ("sales1", "legal1", "auditor1"):
        r = upload(api, user, case_id)
        assert r.status_code in (403, 404), user
    assert upload(api, "manager1", case_id).status_code == 201
    assert upload(api, "risk1", 999999).status_code == 404


def test_disallowed_types_are_refused_with_415_and_nothing_is_stored(app: Flask, api: Api) -> None:
    case_id = collecting_case(app, api)
    for content_type in ("text/plain", "application/x-msdownload", "text/html"):
        r = upload(api, "risk1", case_id, b"MZ...", "x.exe", content_type)
        assert r.status_code == 415 and r.mimetype == "application/problem+json"
        assert "PDF" in r.get_json()["detail"]
    assert stored_files(app) == []
    docx = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"
    # an executable or a web page declared as a PDF or an image is refused by its content
    for content, content_type in (
        (b"MZ\x90\x00\x03", "application/pdf"),
        (b"<html><script>", "image/png"),
        (b"", "application/pdf"),
    ):
        r = upload(api, "risk1", case_id, content, "fake.pdf", content_type)
        assert r.status_code == 415 and "content is not" in r.get_json()["detail"], r.get_json()
    assert stored_files(app) == []
    for content, content_type in (
        (b"\x89PNG\r\n\x1a\n....", "image/png"),
        (minimal_docx(), docx),
        (b"RIFF\x00\x00\x00\x00WEBPVP8 ", "image/webp"),
    ):
        assert upload(api, "risk1", case_id, content, "f", content_type).status_code == 201
    assert upload(api, "risk1", case_id, extra="1").status_code == 422


def test_oversized_files_are_refused_with_413_and_nothing_is_stored(app: Flask, api: Api) -> None:
    case_id = collecting_case(app, api)
    runtime_of(app).settings["RISKLOOP_EVIDENCE_MAX_BYTES"] = 4096
    r = upload(api, "risk1", case_id, b"%PDF" + b"x" * 5000)  # over the limit, inside the envelope
    assert r.status_code == 413 and r.mimetype == "application/problem+json"
    assert "RISKLOOP_EVIDENCE_MAX_BYTES" in r.get_json()["detail"]
    r = upload(api, "risk1", case_id, b"%PDF" + b"x" * 200_000)  # refused while the body is read
    assert r.status_code == 413 and r.mimetype == "application/problem+json"
    assert stored_files(app) == []
    assert upload(api, "risk1", case_id, b"%PDF" + b"x" * 4092).status_code == 201


class _Broken(io.RawIOBase):
    """A client that disconnects after sending some of the file."""

    def __init__(self, sent: int) -> None:
        self.left = sent

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        if self.left <= 0:
            raise OSError("connection reset by peer")
        n = min(len(buffer), self.left)
        buffer[:n] = b"y" * n
        self.left -= n
        return n


def test_an_interrupted_upload_leaves_no_partial_file(app: Flask) -> None:
    settings = runtime_of(app).settings
    with app.app_context():
        with pytest.raises(OSError):
            evidence.store_file(settings, io.BufferedReader(_Broken(300_000)))
        with pytest.raises(PayloadTooLarge):
            evidence.store_file(settings, io.BytesIO(b"z" * 2000), limit=1000)
        assert stored_files(app) == []
        sha, size = evidence.store_file(settings, io.BytesIO(b"complete"))
        assert size == 8 and stored_files(app) == [evidence.path_for(settings, sha)]
        # A process killed midway cannot clean up: the next upload sweeps its stale leftover.
        fresh = evidence.evidence_dir(settings) / ".upload-killed-just-now"
        stale = evidence.evidence_dir(settings) / ".upload-killed-yesterday"
        for leftover in (fresh, stale):
            leftover.write_bytes(b"partial")
        os.utime(stale, (time.time() - 86400, time.time() - 86400))
        evidence.store_file(settings, io.BytesIO(b"complete"))
        assert fresh.exists() and not stale.exists()


def test_a_missing_or_altered_file_is_reported_by_verification(app: Flask, api: Api) -> None:
    case_id = collecting_case(app, api)
    good = upload(api, "risk1", case_id).get_json()["sha256"]
    altered = upload(api, "risk1", case_id, b"%PDF-1.4 contract", "contract.pdf").get_json()[
        "sha256"
    ]
    gone = upload(
        api, "risk1", case_id, b"\xff\xd8\xff photo", "site.jpg", "image/jpeg"
    ).get_json()["sha256"]
    settings = runtime_of(app).settings
    with app.app_context():
        evidence.path_for(settings, altered).write_bytes(b"%PDF-1.4 forged contract")
        evidence.path_for(settings, gone).unlink()
        problems = evidence.verify_evidence(db.session)
        report = verify_all(db.session)  # what `riskloop audit verify` runs
    assert not report.ok and report.first_break is not None
    assert "evidence" in report.first_break.reason
    assert altered in report.first_break.reason or gone in report.first_break.reason
    assert len(problems) == 2
    assert any(altered in p and "contract.pdf" in p and "hashes to" in p for p in problems)
    assert any(gone in p and "missing" in p for p in problems)
    assert not any(good in p for p in problems)
    assert api.get("risk1", f"/api/v1/workflows/{case_id}/evidence/{altered}").status_code == 409
    assert api.get("risk1", f"/api/v1/workflows/{case_id}/evidence/{gone}").status_code == 404
    assert api.get("risk1", f"/api/v1/workflows/{case_id}/evidence/{good}").status_code == 200


def test_evidence_belongs_to_due_diligence_cases(app: Flask, api: Api) -> None:
    from workflow.engine import firing as engine
    from workflow.records.identity import Actor

    with app.app_context():
        other = engine.start(db.session, "test_approval", Actor.system("test"))
        db.session.commit()
        other_id = other.id
    assert upload(api, "risk1", other_id).status_code == 409
