"""Governed configuration in the console: the kinds with their active versions; a risk
officer's draft filed from the editor opens its change case, a broken one lists every
problem by key; managers read, sales never see the area."""

from __future__ import annotations

import html

from flask import Flask

from tests.support.config_changes import soe_threshold_70


def editor_content(page: str) -> str:
    start = page.index('name="content"')
    start = page.index(">", start) + 1
    return html.unescape(page[start : page.index("</textarea>", start)])


def test_a_risk_officer_files_a_draft_from_the_editor(console_factory, app: Flask) -> None:
    risk = console_factory("risk1")
    listing = risk.get("/config").get_data(as_text=True)
    assert "配置管理" in listing and 'data-kind="rule_set"' in listing and "风险评级规则" in listing
    page = risk.get("/config/rule_set").get_data(as_text=True)
    content = editor_content(page)
    assert "state_ownership_pct > 80.0" in content

    broken = content.replace("rating: D", "rating: Z", 1).replace("weight: 0.25", "weight: 0.5", 1)
    refused = risk.post(
        "/config/rule_set", {"content": broken, "reason": "x"}, token_from="/config/rule_set"
    )
    assert refused.status_code == 422
    body = refused.get_data(as_text=True)
    assert 'data-problem-key="rating_rules[0].rating"' in body
    assert 'data-problem-key="scorecard.indicators"' in body
    assert "rating: Z" in editor_content(body)  # what was typed is kept

    filed = risk.post(
        "/config/rule_set",
        {"content": soe_threshold_70(content), "reason": "央企白名单阈值调整为 70%"},
        token_from="/config/rule_set",
    )
    assert filed.status_code == 302 and "/cases/" in filed.headers["Location"]
    case = risk.get(filed.headers["Location"]).get_data(as_text=True)
    assert "回测中" in case


def test_managers_read_sales_never_see_and_forms_need_csrf(console_factory) -> None:
    manager = console_factory("manager1")
    page = manager.get("/config/dd_checklist").get_data(as_text=True)
    assert "尽职调查清单" in page and 'name="content"' not in page and "basic_info" in page
    sales = console_factory("sales1")
    assert 'href="/config"' not in sales.get("/inbox").get_data(as_text=True)
    assert sales.get("/config").status_code == 403
    risk = console_factory("risk1")
    assert (
        risk.post("/config/rule_set", {"content": "x", "reason": "y"}, csrf=False).status_code
        == 400
    )
    assert risk.get("/config/nope").status_code == 404


def test_an_administrator_drafts_a_workflow_definition_in_the_console(console_factory) -> None:
    admin = console_factory("admin")
    listing = admin.get("/config").get_data(as_text=True)
    assert 'data-kind="definition:due_diligence"' in listing and "流程定义：尽职调查" in listing
    url = "/config/definition:due_diligence"
    content = editor_content(admin.get(url).get_data(as_text=True))
    assert "name: due_diligence" in content
    refused = admin.post(
        url,
        {"content": content.replace("initial: opened", "initial: x"), "reason": "x"},
        token_from=url,
    )
    assert refused.status_code == 422
    assert 'data-problem-key="initial"' in refused.get_data(as_text=True)
    filed = admin.post(
        url,
        {"content": content.replace("sla: 10d", "sla: 5d"), "reason": "资料收集期限缩短为 5 天"},
        token_from=url,
    )
    assert filed.status_code == 302 and "/cases/" in filed.headers["Location"]
    # a risk officer reads the definition but has no editor for it
    risk = console_factory("risk1").get(url).get_data(as_text=True)
    assert "流程定义：尽职调查" in risk and 'name="content"' not in risk
