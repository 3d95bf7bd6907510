"""Auditor pages through Flask's test client: reports, verification and export, with
the same role checks as the API."""

from __future__ import annotations

from flask import Flask

from api.extensions import db
from tests.support.cases import start_case
from workflow.engine import firing as engine
from workflow.records.identity import Actor


def closed_case(app: Flask) -> int:
    case_id = start_case(app)
    with app.app_context():
        engine.fire(
            db.session,
            case_id,
            "approve",
            Actor("risk1", frozenset({"risk_officer"})),
            {"amount": 10},
        )
        db.session.commit()
    return case_id


def test_the_audit_page_lists_closed_loops_for_auditors_only(console_factory, app: Flask) -> None:
    case_id = closed_case(app)
    page = console_factory("auditor1").get("/audit")
    assert page.status_code == 200
    assert f'data-loop="{case_id}"' in page.get_data(as_text=True)
    assert console_factory("sales1").get("/audit").status_code == 403


def test_verification_needs_csrf_and_an_auditor(console_factory, app: Flask) -> None:
    closed_case(app)
    auditor = console_factory("auditor1")
    assert auditor.post("/audit/verify", csrf=False).status_code == 400
    response = auditor.post("/audit/verify", token_from="/audit")
    assert response.status_code == 200
    assert 'data-verify-ok="true"' in response.get_data(as_text=True)
    assert console_factory("manager1").post("/audit/verify").status_code == 403


def test_export_streams_the_chain_for_auditors_only(console_factory, app: Flask) -> None:
    case_id = closed_case(app)
    auditor = console_factory("auditor1")
    response = auditor.get(f"/audit/export?instance_id={case_id}")
    assert response.status_code == 200 and response.mimetype == "application/x-ndjson"
    body = response.get_data(as_text=True)
    assert (
        '"approve"' in body
        and f"audit-instance-{case_id}.jsonl" in response.headers["Content-Disposition"]
    )
    csv = auditor.get(f"/audit/export?instance_id={case_id}&format=csv")
    assert csv.status_code == 200 and csv.mimetype == "text/csv"
    assert console_factory("sales1").get(f"/audit/export?instance_id={case_id}").status_code == 403
