"""Contracts in the console: the owner enters and edits a contract's terms, a risk officer
files the signed contract and a performance note (履约记录) on the portrait's 合同 tab, the
file downloads as stored, each addition is on the client's audit trail, and those who may
not are refused."""

from __future__ import annotations

import io

from flask import Flask
from sqlalchemy import select

from api.extensions import db
from tests.support.console import new_client
from tests.support.evidence import PDF
from workflow.records.models import AuditRecord
from workflow.risk.clients.model import Client, client_stream

TERMS = {"number": "HT-2026-009", "amount": "1800000", "start": "2026-01-01", "end": "2026-12-31"}


def contracts_of(app: Flask, client_id: int) -> list[dict]:
    with app.app_context():
        return list(db.session.get(Client, client_id).contracts)


def version_of(app: Flask, client_id: int) -> int:
    with app.app_context():
        return db.session.get(Client, client_id).version


def test_the_owner_enters_a_contract_and_a_wrong_one_is_refused_naming_the_field(
    app: Flask, console_factory
) -> None:
    sales = console_factory("sales1")
    client_id = new_client(sales, app)
    path = f"/clients/{client_id}/contracts/new"
    assert sales.get(path).status_code == 200
    wrong = {
        **TERMS,
        "start": "2026-12-31",
        "end": "2026-01-01",
        "version": version_of(app, client_id),
    }
    refused = sales.post(path, wrong, token_from=path)
    assert refused.status_code == 422
    # The message sits under the end date, the field it names.
    ends = refused.get_data(as_text=True).split('name="end"')[1]
    assert ends.split("</label>")[0].count("合同结束日期早于开始日期。") == 1
    assert contracts_of(app, client_id) == []
    saved = sales.post(path, {**TERMS, "version": version_of(app, client_id)}, token_from=path)
    assert saved.status_code == 302
    assert contracts_of(app, client_id) == [
        {"number": "HT-2026-009", "amount": 1800000.0, "start": "2026-01-01", "end": "2026-12-31"}
    ]
    tab = sales.get(f"/clients/{client_id}?tab=contracts").get_data(as_text=True)
    assert "HT-2026-009" in tab and "新建合同" in tab
    assert "1,800,000" not in tab  # amounts are masked from sales, as in the API
    risk_tab = console_factory("risk1").get(f"/clients/{client_id}?tab=contracts")
    assert "1,800,000.00 元" in risk_tab.get_data(as_text=True)

    edit = f"/clients/{client_id}/contracts/0/edit"
    assert 'value="HT-2026-009"' in sales.get(edit).get_data(as_text=True)
    changed = {**TERMS, "end": "2027-06-30", "version": version_of(app, client_id)}
    assert sales.post(edit, changed, token_from=edit).status_code == 302
    assert contracts_of(app, client_id)[0]["end"] == "2027-06-30"
    stale = {**TERMS, "version": 1}
    assert sales.post(edit, stale, token_from=edit).status_code == 409


def test_a_risk_officer_files_the_contract_and_a_performance_note(
    app: Flask, console_factory
) -> None:
    sales = console_factory("sales1")
    client_id = new_client(sales, app)
    path = f"/clients/{client_id}/contracts/new"
    sales.post(path, {**TERMS, "version": version_of(app, client_id)}, token_from=path)
    risk = console_factory("risk1")
    tab = f"/clients/{client_id}?tab=contracts"
    upload = risk.post(
        f"/clients/{client_id}/contracts/0/files",
        {"files": (io.BytesIO(PDF), "合同扫描件.pdf", "application/pdf")},
        token_from=tab,
        content_type="multipart/form-data",
    )
    assert upload.status_code == 302
    note = risk.post(
        f"/clients/{client_id}/contracts/0/notes", {"text": "首期货款按时到账"}, token_from=tab
    )
    assert note.status_code == 302
    page = risk.get(tab).get_data(as_text=True)
    assert "合同扫描件.pdf" in page and "首期货款按时到账" in page and "履约记录" in page
    link = page.split('href="/clients/')[1]
    sha = page.split("contract-files/")[1].split('"')[0]
    assert link and len(sha) == 64
    download = risk.get(f"/clients/{client_id}/contract-files/{sha}")
    assert download.status_code == 200 and download.data == PDF
    with app.app_context():
        kinds = (
            db.session.execute(
                select(AuditRecord.kind).where(AuditRecord.stream == client_stream(client_id))
            )
            .scalars()
            .all()
        )
    assert "contract.file_added" in kinds and "contract.note_added" in kinds
    # The owner sees them; another salesperson does not see the client at all; an auditor
    # reads but adds nothing; an empty note is refused.
    assert "首期货款按时到账" in sales.get(tab).get_data(as_text=True)
    other = console_factory("sales2")
    assert (
        other.post(
            f"/clients/{client_id}/contracts/0/notes", {"text": "x"}, token_from="/inbox"
        ).status_code
        == 404
    )
    assert other.get(f"/clients/{client_id}/contract-files/{sha}").status_code == 404
    auditor = console_factory("auditor1")
    assert auditor.get(f"/clients/{client_id}/contract-files/{sha}").status_code == 200
    assert (
        auditor.post(
            f"/clients/{client_id}/contracts/0/notes", {"text": "x"}, token_from="/inbox"
        ).status_code
        == 403
    )
    risk.post(f"/clients/{client_id}/contracts/0/notes", {"text": "   "}, token_from=tab)
    with app.app_context():
        notes = (
            db.session.execute(select(AuditRecord).where(AuditRecord.kind == "contract.note_added"))
            .scalars()
            .all()
        )
    assert len(notes) == 1
