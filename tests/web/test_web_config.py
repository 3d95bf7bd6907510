"""Governed configuration in the console: the kinds with their active versions; a risk
officer's draft filed from the editor opens its change case, a broken one lists every
problem by key; managers read, sales never see the area. While typing, the editor's live
check shows the same problems, or "valid" with the diff, and stores nothing."""

from __future__ import annotations

import html
import re

from flask import Flask
from sqlalchemy import func, select

from api.extensions import db
from tests.support.config_changes import soe_threshold_70
from workflow.records.config_versions import ConfigVersion
from workflow.records.models import AuditRecord, OutboxMessage, WorkflowInstance


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


def _rows(app: Flask) -> dict[str, int]:
    with app.app_context():
        return {
            model.__tablename__: db.session.scalar(select(func.count()).select_from(model)) or 0
            for model in (ConfigVersion, WorkflowInstance, AuditRecord, OutboxMessage)
        }


def test_the_editor_checks_a_draft_live_and_stores_nothing(console_factory, app: Flask) -> None:
    risk = console_factory("risk1")
    page = risk.get("/config/rule_set").get_data(as_text=True)
    assert 'hx-post="/config/rule_set/check"' in page and "keyup changed delay:600ms" in page
    content = editor_content(page)
    before = _rows(app)

    broken = content.replace("rating: D", "rating: Z", 1).replace("weight: 0.25", "weight: 0.5", 1)
    checked = risk.post(
        "/config/rule_set/check", {"content": broken}, token_from="/config/rule_set"
    )
    assert checked.status_code == 200
    body = checked.get_data(as_text=True)
    assert 'data-check="invalid"' in body and "个问题" in body  # in the reader's language
    assert 'data-problem-key="rating_rules[0].rating"' in body
    assert 'data-problem-key="scorecard.indicators"' in body
    assert "rule_set draft (version" in body  # the file each problem is in
    # exactly what filing says: the same problems, by key
    refused = risk.post(
        "/config/rule_set", {"content": broken, "reason": "x"}, token_from="/config/rule_set"
    )
    filed_keys = set(re.findall(r'data-problem-key="([^"]+)"', refused.get_data(as_text=True)))
    assert filed_keys == set(re.findall(r'data-problem-key="([^"]+)"', body))

    good = risk.post(
        "/config/rule_set/check",
        {"content": soe_threshold_70(content)},
        token_from="/config/rule_set",
    ).get_data(as_text=True)
    assert 'data-check="valid"' in good and "data-problem-key" not in good
    assert 'id="draft-diff" hx-swap-oob="true"' in good
    removed = re.findall(r'<span class="del">([^<]*)</span>', good)
    added = re.findall(r'<span class="add">([^<]*)</span>', good)
    assert any("state_ownership_pct &gt; 80.0" in line for line in removed)
    assert any("state_ownership_pct &gt; 70.0" in line for line in added)
    assert any(
        "rule_set version" in line and "(active)" in line
        for line in re.findall(r'<span class="hunk">([^<]*)</span>', good)
    )

    unchanged = risk.post(
        "/config/rule_set/check", {"content": content}, token_from="/config/rule_set"
    ).get_data(as_text=True)
    assert 'data-check="unchanged"' in unchanged and "没有任何变化" in unchanged
    assert _rows(app) == before  # no version, case, audit record or task


def test_the_live_check_keeps_the_filing_roles_and_needs_csrf(console_factory, app: Flask) -> None:
    sales, manager, risk, admin = (
        console_factory(user) for user in ("sales1", "manager1", "risk1", "admin")
    )
    url = "/config/definition:due_diligence/check"
    content = editor_content(admin.get("/config/definition:due_diligence").get_data(as_text=True))
    before = _rows(app)  # after signing in (audited) and reading (seeds the definition's kind)
    assert sales.post("/config/rule_set/check", {"content": "x"}).status_code == 403
    assert manager.post("/config/rule_set/check", {"content": "x"}).status_code == 403
    assert risk.post("/config/rule_set/check", {"content": "x"}, csrf=False).status_code == 400
    assert risk.post(url, {"content": "x"}).status_code == 403  # definitions: administrators
    assert admin.post("/config/rule_set/check", {"content": "x"}).status_code == 403
    body = admin.post(url, {"content": content.replace("initial: opened", "initial: x")})
    assert body.status_code == 200 and 'data-problem-key="initial"' in body.get_data(as_text=True)
    not_yaml = admin.post(url, {"content": "name: [unclosed"}).get_data(as_text=True)
    assert 'data-problem-key="(document)"' in not_yaml and "不是有效的 YAML" in not_yaml
    assert risk.post("/config/nope/check", {"content": "x"}).status_code == 404
    assert _rows(app) == before
