"""A salesperson creates a client and submits it; a risk officer approves it from the inbox;
a salesperson never sees the unmasked bank account."""

from __future__ import annotations

import re

from tests.support.browser import settle

ACCOUNT = "6222021234567890123"


def test_sales_creates_a_client_and_a_risk_officer_approves_it(sign_in, live) -> None:  # noqa: ANN001
    sales = sign_in("sales1")
    page = sales.page
    page.click("nav.main a[href='/clients']")
    page.wait_for_selector(".empty, table.grid")
    sales.shot("clients-empty-zh")
    page.click("a[href='/clients/new']")
    page.fill("input[name=name]", "杭州示例科技有限公司")
    page.fill("input[name=credit_code]", "91310000MA1FL00000")  # wrong check character
    page.locator("input[name=credit_code]").blur()
    assert page.eval_on_selector("input[name=credit_code]", "el => el.validity.customError")
    assert page.eval_on_selector("form.client-form", "f => f.checkValidity()") is False
    page.fill("input[name=credit_code]", "91310000MA1FL0000N")
    assert page.eval_on_selector("input[name=credit_code]", "el => el.validity.valid")
    page.fill("input[name=legal_representative]", "王五")
    page.fill("input[name=registered_capital]", "12000000")
    page.fill("input[name=contact_name]", "赵六")
    page.fill("input[name=contact_phone]", "13900001111")
    page.fill("input[name=bank_account]", ACCOUNT)
    page.fill("input[name=fact_litigation_count]", "0")
    page.select_option("select[name=fact_payment_history]", "good")
    sales.shot("client-new-zh")
    page.click("button[name=submit_for_admission][value='1']")
    page.wait_for_selector(".flash.ok")
    assert "杭州示例科技有限公司" in page.inner_text("h1")
    assert ACCOUNT not in page.content() and "0123" in page.inner_text("code.account")
    sales.shot("client-detail-sales-zh")
    client_url = page.url

    settle(live)
    risk = sign_in("risk1")
    rpage = risk.page
    rpage.reload()
    row = rpage.locator("table.inbox tr", has_text="客户准入").first
    row.locator("a").first.click()
    rpage.wait_for_selector("pre.mermaid[data-processed] svg")
    assert "风控审批" in rpage.inner_text("h1")
    assert rpage.locator(".risk-report .bars .fill").count() >= 1  # indicator contributions
    risk.shot("case-onboarding-risk-review-zh")
    rpage.click("summary[data-action=approve]")
    rpage.fill("form[data-action-form=approve] textarea[name=comment]", "评分良好，准予准入")
    rpage.click("form[data-action-form=approve] button[type=submit]")
    rpage.wait_for_selector(".flash.ok")
    assert "已准入" in rpage.inner_text("h1")
    settle(live)

    rpage.goto(client_url)
    assert ACCOUNT in rpage.inner_text("code.account")  # risk officers see it (and it is audited)
    assert rpage.locator(".risk-report").count() == 1
    risk.shot("client-detail-risk-zh")

    page.goto(client_url)
    assert "正常" in page.inner_text("h1")  # the client is active
    assert ACCOUNT not in page.content()
    page.goto(live.url + "/clients")
    assert ACCOUNT not in page.content()
    assert re.search(r"\*{4}[ *]*0123", page.inner_text("table.grid"))
    assert sales.errors == [] and risk.errors == []
    assert sales.only_local_requests() and risk.only_local_requests()
