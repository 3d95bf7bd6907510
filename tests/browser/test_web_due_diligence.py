"""The whole jobs the other browser tests do not walk: a C client through due diligence
(checklist with evidence, passed with conditions) to the dual approval; a salesperson
answering a "return for information" by editing the client and resubmitting; a salesperson
reading a notification and opening its case."""

from __future__ import annotations

import re

from api.extensions import db
from tests.support.browser import User, active_client, settle
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk import onboarding
from workflow.risk.alerts import intake as alerts
from workflow.risk.clients import service as client_service
from workflow.risk.clients.creditcode import make_credit_code

PDF = b"%PDF-1.4\n1 0 obj <<>> endobj\ntrailer <<>>\n%%EOF\n"
SALES = Actor("sales1", frozenset({"sales"}))
ITEMS = ("basic_info", "financials", "reputation", "legal_records", "compliance")


def open_action(user: User, trigger: str) -> str:
    user.page.wait_for_selector(f"summary[data-action={trigger}]")
    user.page.eval_on_selector(
        f"details:has(> summary[data-action={trigger}])", "d => { d.open = true; }"
    )
    return f"form[data-action-form={trigger}]"


def submit(user: User, form: str) -> None:
    user.page.click(f"{form} button[type=submit]")
    user.page.wait_for_selector(".flash.ok")


def submitted_client(live, name: str, code: str, facts: dict) -> tuple[int, int]:  # noqa: ANN001
    with live.app.app_context():
        client = client_service.create_client(
            db.session,
            {"name": name, "credit_code": code, "registered_capital": "12000000", "facts": facts},
            SALES,
        )
        case = onboarding.start_admission(db.session, client.id, SALES)
        db.session.commit()
        ids = client.id, case.id
    settle(live)
    return ids


def test_a_c_client_passes_due_diligence_and_two_approvals(sign_in, live) -> None:  # noqa: ANN001
    client_id, case_id = submitted_client(
        live,
        "温州尽调示例有限公司",
        make_credit_code("91330300MA2DD0002"),
        {"litigation_count": 3, "negative_news_count": 2, "payment_history": "minor_delays"},
    )
    with live.app.app_context():
        dd_id = db.session.query(WorkflowInstance.id).filter_by(parent_id=case_id).scalar()
    assert dd_id is not None

    analyst = sign_in("risk2")
    analyst.page.reload()
    analyst.page.click(f"table.inbox a[href='/cases/{dd_id}']")
    submit(analyst, open_action(analyst, "start"))
    form = open_action(analyst, "submit_for_review")
    for item in ITEMS:
        analyst.page.check(f"{form} input[name=cl-{item}-risk][value=medium]")
        analyst.page.fill(f"{form} textarea[name=cl-{item}-finding]", f"{item}：已核实")
    analyst.page.set_input_files(
        f"{form} input[name=cl-financials-files]",
        [{"name": "2025年审计报告.pdf", "mimeType": "application/pdf", "buffer": PDF}],
    )
    submit(analyst, form)
    analyst.shot("case-due-diligence-under-review-zh")

    manager = sign_in("manager1")
    manager.goto(f"/cases/{dd_id}")
    form = open_action(manager, "pass_with_conditions")
    manager.page.fill(f"{form} textarea[name=p_conditions]", "每季度提交财报\n首笔授信不超过500万")
    manager.page.fill(f"{form} textarea[name=comment]", "有条件通过")
    submit(manager, form)
    assert "有条件通过" in manager.page.inner_text("h1")
    timeline = manager.page.inner_text("ol.timeline")
    assert "2025年审计报告.pdf" in timeline
    settle(live)

    risk = sign_in("risk1")
    risk.goto(f"/cases/{case_id}")
    assert "双人审批" in risk.page.inner_text("h1")
    data = risk.page.inner_text("dl.data")
    assert "每季度提交财报" in data and "首笔授信不超过500万" in data and "\\u" not in data
    assert "尽职调查" in risk.page.inner_text("ul.plain")  # the related case, worded
    form = open_action(risk, "approve")
    risk.page.fill(f"{form} textarea[name=comment]", "同意，一审")
    submit(risk, form)
    legal = sign_in("legal1")
    legal.goto(f"/cases/{case_id}")
    form = open_action(legal, "approve")
    legal.page.fill(f"{form} textarea[name=comment]", "同意，二审")
    submit(legal, form)
    assert "已准入" in legal.page.inner_text("h1")
    who = legal.page.locator("ol.timeline li .who").all_inner_texts()
    what = [
        w.split(":")[0].strip()
        for w in legal.page.locator("ol.timeline li .what").all_inner_texts()
    ]
    assert who[-2].startswith("risk1") and who[-1].startswith("legal1")
    assert what[-2] != what[-1]  # the first and the second approval, each named as such
    legal.page.wait_for_selector("pre.mermaid[data-processed] svg")
    legal.shot("case-onboarding-dual-approved-zh")
    legal.goto(f"/clients/{client_id}")
    assert "正常" in legal.page.inner_text("h1")
    assert (
        analyst.errors == [] and manager.errors == [] and risk.errors == [] and legal.errors == []
    )


def test_sales_answers_a_return_and_reads_a_notification(sign_in, live) -> None:  # noqa: ANN001
    client_id, case_id = submitted_client(
        live,
        "绍兴补充资料示例有限公司",
        make_credit_code("91330600MA2RF0003"),
        {"litigation_count": 0, "negative_news_count": 0, "payment_history": "good"},
    )
    risk = sign_in("risk1")
    risk.goto(f"/cases/{case_id}")
    form = open_action(risk, "return_for_info")
    risk.page.fill(f"{form} textarea[name=comment]", "请补充成立日期和行业")
    submit(risk, form)

    sales = sign_in("sales1")
    sales.page.reload()
    row = sales.page.locator(f"table.inbox tr:has(a[href='/cases/{case_id}'])")
    assert "绍兴补充资料示例有限公司" in row.inner_text()
    sales.goto(f"/cases/{case_id}")
    assert "请补充成立日期和行业" in sales.page.inner_text("dl.data")  # readable, not JSON
    sales.goto(f"/clients/{client_id}")
    sales.page.click("a[data-edit-client]")
    sales.page.fill("input[name=industry]", "纺织")
    sales.page.fill("input[name=established_on]", "2012-03-15")
    sales.shot("client-edit-sales-zh")
    sales.page.click("form[data-client-edit] button[type=submit]")
    sales.page.wait_for_selector(".flash.ok")
    assert "纺织" in sales.page.inner_text("main")
    sales.goto(f"/cases/{case_id}")
    form = open_action(sales, "submit")
    sales.page.fill(f"{form} textarea[name=comment]", "已补充成立日期和行业")
    submit(sales, form)
    settle(live)
    sales.page.reload()
    assert "风控审批" in sales.page.inner_text("h1")

    other = active_client(live, "舟山通知示例有限公司", make_credit_code("91330900MA2NT0004"))
    with live.app.app_context():
        raised = alerts.raise_alert(
            db.session,
            Actor("risk1", frozenset({"risk_officer"})),
            {
                "client_id": other,
                "level": "red",
                "category": "negative_news",
                "title": "媒体报道拖欠货款",
            },
        )
        db.session.commit()
        alert_case = raised.instance.id
    settle(live)
    sales.goto("/inbox")
    sales.page.click("nav.main a[href='/notifications']")
    sales.page.wait_for_selector("table.notifications")
    assert sales.page.locator("[data-unread]").count() == 1
    sales.shot("notifications-sales-zh")
    sales.page.locator("tr.unread button[data-open-case]", has_text=f"#{alert_case}").first.click()
    sales.page.wait_for_url(re.compile(rf".*/cases/{alert_case}$"))
    assert sales.errors == [] and risk.errors == []
