"""Issue #19's done-when as one story (SQLite and PostgreSQL): a sales user enters a
natural-person client, a risk officer files its contract and sees the contract and its file on
the portrait, an auditor finds every view of it, legal exports its personal data and asks for
erasure, a manager approves, and afterwards the personal fields are unreadable through the API
and the export while ``riskloop audit verify`` still passes."""

from __future__ import annotations

import io
import json

from flask import Flask

from api.cli import main
from tests.support.app import Api, drain
from tests.support.evidence import PDF
from tests.support.persons import id_number, person_body
from workflow.risk.erasure import placeholder_name

CONTRACT = {"number": "HT-P-2026-01", "amount": 50000, "start": "2026-01-01", "end": "2026-12-31"}


def test_a_person_entered_viewed_exported_and_erased_with_the_trail_intact(
    app: Flask, api: Api, console_factory
) -> None:
    # A sales user enters a natural-person client with a contract.
    created = api.post("sales1", "/api/v1/clients", json=person_body(19, contracts=[CONTRACT]))
    assert created.status_code == 201, created.get_json()
    client_id = int(created.get_json()["id"])
    assert created.get_json()["created_by"] == "sales1"
    assert api.get("sales1", f"/api/v1/clients/{client_id}").status_code == 200

    # A risk officer files the signed contract and sees contract and file on the portrait.
    risk = console_factory("risk1")
    tab = f"/clients/{client_id}?tab=contracts"
    filed = risk.post(
        f"/clients/{client_id}/contracts/0/files",
        {"files": (io.BytesIO(PDF), "个人借款合同.pdf", "application/pdf")},
        token_from=tab,
        content_type="multipart/form-data",
    )
    assert filed.status_code == 302, filed.get_data(as_text=True)
    portrait = risk.get(tab).get_data(as_text=True)
    assert "HT-P-2026-01" in portrait and "个人借款合同.pdf" in portrait
    assert id_number(19) not in portrait  # masked for the risk officer

    # Legal exports everything held about the person.
    export = api.get("legal1", f"/api/v1/clients/{client_id}/personal-data")
    assert export.status_code == 200, export.get_json()
    document = json.dumps(export.get_json(), ensure_ascii=False)
    for held in (id_number(19), "张19明", "13912345678", "HT-P-2026-01"):
        assert held in document, held

    # An auditor finds every view of the record: the owner's through the API, the risk
    # officer's in the console, legal's export.
    reads = api.get("auditor1", f"/api/v1/audit/reads?client_id={client_id}&limit=500")
    assert reads.status_code == 200, reads.get_json()
    seen = {(r["username"], r["channel"], r["view"]) for r in reads.get_json()["items"]}
    assert {
        ("sales1", "api", "detail"),
        ("risk1", "console", "detail"),
        ("legal1", "api", "personal_data"),
    } <= seen, seen
    assert all(client_id in r["client_ids"] for r in reads.get_json()["items"])
    console_reads = console_factory("auditor1").get(f"/audit/reads?client_id={client_id}")
    assert "risk1" in console_reads.get_data(as_text=True)

    # Legal asks for erasure; a manager approves it.
    asked = api.post(
        "legal1", f"/api/v1/clients/{client_id}/erasure", json={"reason": "本人要求删除 (PIPL)"}
    )
    assert asked.status_code == 201, asked.get_json()
    case = asked.get_json()["id"]
    approved = api.act("manager1", case, "approve", comment="核实本人申请")
    assert approved.status_code == 200 and approved.get_json()["to_state"] == "erased"
    drain(app)

    # The personal fields are unreadable: the API and the export.
    view = api.get("risk1", f"/api/v1/clients/{client_id}").get_json()
    assert view["erased_at"] is not None and view["name"] == placeholder_name(client_id)
    for field in ("id_number", "contacts", "bank_account"):
        assert view[field] is None, field
    after = api.get("legal1", f"/api/v1/clients/{client_id}/personal-data")
    assert after.status_code == 200, after.get_json()
    text = json.dumps(after.get_json(), ensure_ascii=False)
    for gone in (id_number(19), "张19明", "13912345678", "6222020012349999"):
        assert gone not in text, gone
    assert view["erased_at"][:10] in text  # the export says that it was erased, and when
    page = risk.get(f"/clients/{client_id}").get_data(as_text=True)
    assert "张19明" not in page and "13912345678" not in page

    # The audit trail still verifies, erasure included.
    verified = app.test_cli_runner().invoke(main, ["audit", "verify"])
    assert verified.exit_code == 0, verified.output
    assert api.get("auditor1", "/api/v1/audit/verify").get_json()["ok"] is True
