"""The three user groups' core job, end to end in English: a salesperson creates a client
and submits it, a risk officer approves it from the inbox, an auditor opens the closed
case, verifies the chain and exports it. All user data is ASCII, so any Chinese
character on these pages is an untranslated word of the console."""

from __future__ import annotations

import json
import re

from tests.support.browser import User, settle
from workflow.risk.clients.creditcode import make_credit_code

CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]")
SWITCH = re.compile(r"(中文|English)")  # the language switch names each language in itself
ACCOUNT = "6222029876543210987"


def chinese_on(user: User) -> list[str]:
    text = SWITCH.sub("", user.page.inner_text("body")).replace("元", "")
    return sorted(set(CJK.findall(text)))


def test_sales_risk_and_audit_do_their_whole_job_in_english(sign_in, live) -> None:  # noqa: ANN001
    code = make_credit_code("91310000MA1FL0001")
    sales = sign_in("sales1", "en")
    page = sales.page
    assert page.get_attribute("html", "lang") == "en"
    page.click("nav.main a[href='/clients']")
    page.click("a[href='/clients/new']")
    page.fill("input[name=name]", "Hangzhou Example Technology Co")
    page.fill("input[name=credit_code]", code[:17] + ("0" if code[17] != "0" else "1"))
    page.locator("input[name=credit_code]").blur()
    assert page.eval_on_selector("input[name=credit_code]", "el => el.validity.customError")
    page.fill("input[name=credit_code]", code)
    page.fill("input[name=legal_representative]", "Wang Wu")
    page.fill("input[name=registered_capital]", "12000000")
    page.fill("input[name=contact_name]", "Zhao Liu")
    page.fill("input[name=contact_phone]", "13900001111")
    page.fill("input[name=bank_account]", ACCOUNT)
    page.fill("input[name=fact_litigation_count]", "0")
    page.select_option("select[name=fact_payment_history]", "good")
    assert chinese_on(sales) == []
    sales.shot("client-new-en")
    page.click("button[name=submit_for_admission][value='1']")
    page.wait_for_selector(".flash.ok")
    assert "submitted for admission" in page.inner_text(".flash.ok")
    assert ACCOUNT not in page.content()
    assert chinese_on(sales) == []
    sales.shot("client-detail-sales-en")
    client_url = page.url

    settle(live)
    risk = sign_in("risk1", "en")
    rpage = risk.page
    rpage.reload()
    assert chinese_on(risk) == []
    risk.shot("inbox-risk-en")
    rpage.locator("table.inbox tr", has_text="Hangzhou Example Technology Co").first.locator(
        "a"
    ).first.click()
    rpage.wait_for_selector("pre.mermaid[data-processed] svg")
    assert "Risk review" in rpage.inner_text("h1")
    assert chinese_on(risk) == []
    risk.shot("case-onboarding-risk-review-en")
    rpage.click("summary[data-action=approve]")
    rpage.fill("form[data-action-form=approve] textarea[name=comment]", "Good score, admitted")
    rpage.click("form[data-action-form=approve] button[type=submit]")
    rpage.wait_for_selector(".flash.ok")
    case_id = rpage.url.rstrip("/").rsplit("/", 1)[1]
    assert "Approved" in rpage.inner_text("h1")
    settle(live)
    page.goto(client_url)
    assert "Active" in page.inner_text("h1")

    auditor = sign_in("auditor1", "en")
    auditor.goto("/audit")
    row = auditor.page.locator(f"tr[data-loop='{case_id}']")
    assert "Approved" in row.inner_text() and "Risk review" in row.inner_text()  # time per stage
    auditor.page.click("button[data-verify]")
    auditor.page.wait_for_selector("[data-verify-ok]")
    assert auditor.page.get_attribute("[data-verify-ok]", "data-verify-ok") == "true"
    auditor.page.wait_for_selector("canvas[data-drawn]")
    assert chinese_on(auditor) == []
    auditor.shot("audit-en")
    with auditor.page.expect_download() as download:
        row.locator("a[data-export=jsonl]").click()
    assert download.value.suggested_filename == f"audit-instance-{case_id}.jsonl"
    records = [json.loads(line) for line in download.value.path().read_text("utf-8").splitlines()]
    assert any(r.get("trigger") == "approve" and r.get("actor") == "risk1" for r in records)
    row.locator("a").first.click()
    auditor.page.wait_for_selector("ol.timeline")
    assert auditor.page.locator("summary[data-action]").count() == 0  # auditors never act
    assert chinese_on(auditor) == []
    auditor.shot("case-closed-auditor-en")
    assert sales.errors == [] and risk.errors == [] and auditor.errors == []
    assert (
        sales.only_local_requests() and risk.only_local_requests() and auditor.only_local_requests()
    )
