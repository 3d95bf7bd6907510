"""GET /api/v1/clients/{id}/report: the portrait as JSON, a PDF or print-ready HTML, in
either language, for the roles that see the risk report behind a rating."""

from __future__ import annotations

import io

import pytest
from flask import Flask
from pypdf import PdfReader

from tests.support.app import drain
from tests.support.onboarding import admit, new_client
from tests.support.portrait import CURRENT_LIMIT, NAME, portrait_client


@pytest.fixture
def client_id(app: Flask) -> int:
    return portrait_client(app)


def pdf_text(body: bytes) -> str:
    reader = PdfReader(io.BytesIO(body))
    return "\n".join(page.extract_text() for page in reader.pages)


def test_the_json_report_shows_the_current_limit_and_no_stale_explanation(api, client_id) -> None:
    response = api.get("risk1", f"/api/v1/clients/{client_id}/report")
    assert response.status_code == 200, response.get_json()
    report = response.get_json()
    assert report["client"]["name"] == NAME
    assert report["rating"] == {
        "rating": "B",
        "risk_score": 62.5,
        "risk_level": "medium",
        "credit_limit": CURRENT_LIMIT,
        # the screening and the latest rating record both say 18 M: neither explains 25 M
        "explanation": None,
    }
    assert [t["tag"] for t in report["tags"]["system"]] == ["涉诉频繁"]
    assert report["tags"]["manual"] == ["重点客户"]
    assert [e["type"] for e in report["legal"]["events"]] == ["litigation"]
    assert [e["type"] for e in report["background"]["events"]] == ["business_change"]
    assert [r["rating"] for r in report["ratings"]] == ["A", "B"]


def test_the_pdf_is_a_pdf_with_the_client_and_its_current_rating(api, client_id) -> None:
    response = api.get("manager1", f"/api/v1/clients/{client_id}/report?format=pdf&lang=zh-CN")
    assert response.status_code == 200
    assert response.mimetype == "application/pdf"
    assert "attachment" in response.headers["Content-Disposition"]
    assert response.data.startswith(b"%PDF-")
    text = pdf_text(response.data)
    assert NAME in text and "风险报告" in text and "25,000,000.00" in text
    # 18 M appears only in the rating history, as the limit of past evaluations
    assert "18,000,000" not in text.split("评级历史")[0]
    english = pdf_text(
        api.get("legal1", f"/api/v1/clients/{client_id}/report?format=pdf&lang=en").data
    )
    assert "Risk report" in english and "Rating history" in english and NAME in english


def test_the_html_report_follows_the_language_asked_for(api, client_id) -> None:
    path = f"/api/v1/clients/{client_id}/report?format=html"
    zh = api.get("auditor1", path).get_data(as_text=True)
    assert "风险报告" in zh and "评级历史" in zh and NAME in zh and "25,000,000.00" in zh
    en = api.get("auditor1", path, headers={"Accept-Language": "en-GB,en;q=0.9"})
    assert en.mimetype == "text/html"
    page = en.get_data(as_text=True)
    assert (
        "Risk report" in page
        and "Rating history" in page
        and "Litigation and court records" in page
    )
    assert "风险报告" not in page
    assert "Risk report" in api.get("risk1", path + "&lang=en").get_data(as_text=True)


def test_sales_admins_and_strangers_are_refused(api, client_id) -> None:
    path = f"/api/v1/clients/{client_id}/report"
    assert api.get("sales1", path).status_code == 403  # their own client, no risk report
    assert api.get("sales2", path).status_code == 404  # another owner's client
    assert api.get("admin", path).status_code == 403
    assert api.get(None, path).status_code == 401
    assert api.get("risk1", "/api/v1/clients/999999/report").status_code == 404
    bad = api.get("risk1", path + "?format=docx")
    assert bad.status_code in (400, 422)
    assert api.get("risk1", path + "?lang=fr").status_code in (400, 422)


def test_the_report_is_in_the_openapi_document(api) -> None:
    document = api.get(None, "/api/v1/openapi.json").get_json()
    operation = document["paths"]["/api/v1/clients/{client_id}/report"]["get"]
    content = operation["responses"]["200"]["content"]
    assert {"application/json", "application/pdf", "text/html"} <= set(content)


def test_after_a_sensitive_edit_of_the_limit_the_report_never_shows_the_screened_one(
    app: Flask, api
) -> None:
    """Given a client screened and admitted with the screening's limit, when a dual
    approval raises the limit, then the report shows the new limit explained by that
    approval, and no longer the screening's explanation (which stated the old one)."""
    client = new_client(
        api,
        71,
        registered_capital="50000000",
        facts={"litigation_count": 0, "payment_history": "good"},
    )
    case = admit(app, api, client)
    approved = api.act("risk1", case["id"], "approve", expected_version=case["version"])
    assert approved.status_code == 200, approved.get_json()
    drain(app)
    before = api.get("risk1", f"/api/v1/clients/{client}/report").get_json()["rating"]
    screened = case["data"]["screening"]["credit_limit"]
    assert before["credit_limit"] == screened
    # the admission's screening is the first record of the rating history
    assert before["explanation"]["source"] == "rating_record"
    assert before["explanation"]["contributions"]
    raised = screened + 7_000_000
    filed = api.post(
        "sales1",
        f"/api/v1/clients/{client}/change-requests",
        json={"changes": {"credit_limit": str(raised)}, "reason": "larger framework contract"},
    ).get_json()
    assert api.act("risk1", filed["id"], "approve", expected_version=1).status_code == 200
    assert api.act("legal1", filed["id"], "approve", expected_version=2).status_code == 200
    after = api.get("risk1", f"/api/v1/clients/{client}/report").get_json()["rating"]
    # explained by the record of the approved change request, never by the screening
    # (whose scorecard gave the old limit)
    assert after["credit_limit"] == raised
    assert after["explanation"]["source"] == "rating_record"
    assert after["explanation"]["change_request"] == filed["id"]
    assert after["explanation"]["contributions"] == []
    page = api.get("risk1", f"/api/v1/clients/{client}/report?format=html&lang=en")
    text = page.get_data(as_text=True)
    # the limit in force is the raised one; the screened one is only in the rating history
    assert f"Credit limit <b data-credit-limit>{raised:,.2f}" in text
    overview = (
        text.split("<h2>Rating history</h2>")[0] if "<h2>Rating history</h2>" in text else text
    )
    assert f"{screened:,.2f}" not in overview.split("Credit limit <b data-credit-limit>")[1][:40]
    assert f"change request #{filed['id']}" in text
