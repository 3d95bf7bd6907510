"""Contracts and an ad-hoc due diligence in a real Chromium: a risk officer enters a contract
on the portrait's 合同 tab, files the signed copy and a performance note, then opens a due
diligence from the client page and lands on the new case."""

from __future__ import annotations

from pathlib import Path

from tests.support.browser import Live, active_client
from tests.support.evidence import PDF
from workflow.risk.clients.creditcode import make_credit_code


def test_a_risk_officer_keeps_a_contract_and_opens_a_due_diligence(
    sign_in, live: Live, tmp_path: Path
) -> None:
    client_id = active_client(live, "苏州合同示例有限公司", make_credit_code("91320500MA1C0NT01"))
    risk = sign_in("risk1")
    page = risk.page
    risk.goto(f"/clients/{client_id}?tab=contracts")
    page.click("[data-new-contract]")
    page.fill("input[name=number]", "HT-2026-777")
    page.fill("input[name=amount]", "2500000")
    page.fill("input[name=start]", "2026-01-01")
    page.fill("input[name=end]", "2026-06-30")
    page.click("form[data-contract-form] button[type=submit]")
    page.wait_for_selector("tr[data-contract='HT-2026-777']")
    assert "2,500,000.00 元" in page.inner_text("tr[data-contract='HT-2026-777']")

    signed = tmp_path / "合同扫描件.pdf"
    signed.write_bytes(PDF)
    page.set_input_files("form[data-contract-upload] input[type=file]", str(signed))
    page.click("form[data-contract-upload] button[type=submit]")
    page.wait_for_selector("[data-contract-folder='HT-2026-777'] a:text('合同扫描件.pdf')")
    page.fill("form[data-contract-note] textarea[name=text]", "首期货款按时到账")
    page.click("form[data-contract-note] button[type=submit]")
    page.wait_for_selector(
        "[data-contract-folder='HT-2026-777'] blockquote:text('首期货款按时到账')"
    )
    risk.shot("client-contracts-zh")

    page.click("[data-open-review] summary")
    page.fill("[data-open-review] textarea[name=comment]", "合同金额较大，补充尽调")
    page.click("[data-open-review] button[type=submit]")
    page.wait_for_url("**/cases/*")
    assert "尽职调查" in page.inner_text("h1") and "补充尽调" in page.inner_text("body")
    assert risk.errors == [] and risk.only_local_requests()
