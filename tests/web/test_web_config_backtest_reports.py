"""Every kind's backtest report on a configuration change's case page, in words in both
languages (monitoring rules, alert routing, the due-diligence checklist, a workflow
definition), counts with thousands separators and SLAs in days; a failed backtest says
回测失败 in the case list and on the page; a manager approves with the hash the page
carries (SQLite and PostgreSQL)."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from api.extensions import db
from tests.support.alerts import alert_body, make_client
from tests.support.app import USERS, Api, drain
from tests.support.config_changes import active_content, draft, drafted_and_backtested
from tests.support.console import Console
from tests.support.definition_versions import cases_in_each_state
from tests.support.events import event, post_event
from tests.support.page_walk import slips, visible_text
from workflow.risk.clients.model import Client


def english(console: Console) -> Console:
    with console.client.session_transaction() as session:
        session["lang"] = "en"
    return console


def section(console: Console, change_id: int, lang: str = "zh-CN") -> str:
    """The case page's backtest section; nothing raw in it (nor on the page)."""
    r = console.get(f"/cases/{change_id}")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    page = r.get_data(as_text=True)
    assert slips(page, lang, frozenset(USERS)) == []
    found = re.search(r'<section class="card backtest".*?</section>', page, re.S)
    assert found, page[:500]
    assert 'data-backtest="done"' in found.group(0) and "data-report>" not in found.group(0)
    return found.group(0)


def words(html: str) -> str:
    """What a reader sees of ``html`` (not its attributes nor its code elements)."""
    return " | ".join(visible_text(html))


def both(console_factory, change_id: int) -> tuple[str, str]:  # noqa: ANN001
    zh = section(console_factory("manager1"), change_id)
    en = section(english(console_factory("auditor1")), change_id, "en")
    return words(zh), words(en)


def test_a_monitoring_rules_report_in_words(console_factory, app: Flask, api: Api) -> None:
    client_id = make_client(app)
    post_event(app, api, client_id, event("dishonest_debtor", "被列为失信被执行人"))
    content = active_content(api, "monitoring_rules")["content"]
    black = "alert: {level: black, category: dishonest_debtor}"
    assert black in content
    change = drafted_and_backtested(
        app, api, "monitoring_rules", content.replace(black, black.replace("black", "red", 1))
    )
    report = change["data"]["backtest"]["report"]
    assert report["active"]["by_level"] == {"black": 1} and report["events_differing"] == 0

    zh, en = both(console_factory, change["id"])
    assert "按级别统计的预警 | 级别 | 生效版本 | 草稿 | 黑色 | 1 | 0 | 红色 | 0 | 1" in zh
    assert "by_level" not in zh and "| by level |" not in f"| {zh} |"
    assert "Alerts by level" in en and "Black | 1 | 0" in en and "| by level |" not in f"| {en} |"
    assert "失信被执行人 | 1 | 1" in zh and "Listed as a dishonest judgement debtor | 1 | 1" in en


@pytest.mark.usefixtures("webhook_secret")
def test_an_alert_routing_report_in_words(console_factory, app: Flask, api: Api) -> None:
    case = api.post("risk1", "/api/v1/alerts", json=alert_body(make_client(app)))
    assert case.status_code == 201, case.get_json()
    content = active_content(api, "alert_routing")["content"]
    faster = content.replace("respond: 24h", "respond: 12h").replace(
        "roles:\n  - risk_officer\n", "roles:\n  - risk_officer\n  - legal\n", 1
    )
    change = drafted_and_backtested(app, api, "alert_routing", faster)
    report = change["data"]["backtest"]["report"]
    assert report["open_alerts"] == 1 and report["per_person"]

    zh, en = both(console_factory, change["id"])
    assert "每人承担的预警" in zh and "每个角色承担的预警" in zh
    assert "per_person" not in zh and "per person" not in zh and "past sla" not in zh
    assert "Alerts per person" in en and "Open alerts past their SLA" in en
    assert "| per person |" not in f"| {en} |" and "risk_officer" not in en


def test_a_checklist_report_in_words(console_factory, app: Flask, api: Api) -> None:
    cases = cases_in_each_state(app, api)
    content = active_content(api, "dd_checklist")["content"]
    new = content.replace(
        "  compliance:", "  sanctions:\n    zh-CN: 制裁筛查\n    en: Sanctions\n  compliance:"
    )
    change = drafted_and_backtested(app, api, "dd_checklist", new)
    report = change["data"]["backtest"]["report"]
    assert report["items_added"] == ["sanctions"] and report["cases_affected"] == 2

    zh, en = both(console_factory, change["id"])
    assert "新增的检查项" in zh and "制裁筛查" in zh and "复核中" in zh
    assert "under_review" not in zh and "sanctions" not in zh
    assert f"#{cases['under_review'][0]}" in zh
    assert "Items added" in en and "Sanctions" in en and "Under review" in en


def test_a_definition_report_in_words_with_slas_in_days(
    console_factory, app: Flask, api: Api
) -> None:
    cases_in_each_state(app, api)
    content = active_content(api, "definition:due_diligence")["content"]
    assert "sla: 10d" in content
    r = draft(api, "definition:due_diligence", content.replace("sla: 10d", "sla: 5d"), "admin")
    assert r.status_code == 201, r.get_json()
    drain(app)
    change = api.get("admin", f"/api/v1/workflows/{r.get_json()['id']}").get_json()
    report = change["data"]["backtest"]["report"]
    assert report["states"]["sla_changed"]["collecting"] == {"from": 864000, "to": 432000}

    zh, en = both(console_factory, change["id"])
    assert "10 天" in zh and "5 天" in zh and "资料收集中" in zh and "days," not in zh
    assert "migratable" not in zh and "planned" not in zh and "under_review" not in zh
    assert "10 days" in en and "5 days" in en and "Collecting" in en
    assert "0:00:00" not in en and "migratable" not in en


def test_counts_carry_thousands_separators(console_factory, app: Flask, api: Api) -> None:
    """A rule set's report over many clients (the counts as a large book would give)."""
    from tests.support.config_changes import soe_threshold_70

    change = drafted_and_backtested(
        app, api, "rule_set", soe_threshold_70(active_content(api)["content"])
    )
    from workflow.records.models import WorkflowInstance

    with app.app_context():
        instance = db.session.get(WorkflowInstance, change["id"])
        assert instance is not None
        backtest = dict(instance.data["backtest"])
        backtest["report"] = {**backtest["report"], "clients": 12345, "changed": {"any": 10001}}
        instance.data = {**instance.data, "backtest": backtest}
        db.session.commit()
    zh, en = both(console_factory, change["id"])
    assert "12,345" in zh and "10,001" in zh and "10001" not in zh
    assert "12,345" in en


def failed_change(app: Flask, api: Api) -> int:
    from tests.support.config_changes import soe_threshold_70

    client_id = make_client(app)
    with app.app_context():
        client = db.session.get(Client, client_id)
        assert client is not None
        client.rating, client.facts = "A", {"litigation_count": "many"}  # stored bad data
        db.session.commit()
    r = draft(api, "rule_set", soe_threshold_70(active_content(api)["content"]))
    assert r.status_code == 201, r.get_json()
    drain(app)
    return int(r.get_json()["id"])


def test_a_failed_backtest_says_so_in_the_list_and_on_the_page(
    console_factory, app: Flask, api: Api
) -> None:
    change_id = failed_change(app, api)
    manager = console_factory("manager1")
    page = manager.get(f"/cases/{change_id}").get_data(as_text=True)
    assert '<span class="state big">回测失败</span>' in page
    listing = manager.get("/cases?definition=config_change").get_data(as_text=True)
    row = re.search(rf'<a href="/cases/{change_id}">{change_id}</a>.*?</tr>', listing, re.S)
    assert row and "回测失败" in row.group(0) and "回测中" not in row.group(0)
    en = english(console_factory("risk1")).get(f"/cases/{change_id}").get_data(as_text=True)
    assert '<span class="state big">Backtest failed</span>' in en
    assert api.get("risk1", f"/api/v1/workflows/{change_id}").get_json()["state"] == "backtesting"


def test_the_approve_form_carries_the_hash_of_the_change(
    console_factory, app: Flask, api: Api
) -> None:
    content = active_content(api, "dd_checklist")["content"]
    change = drafted_and_backtested(
        app, api, "dd_checklist", content.replace("合规情况", "合规与反洗钱")
    )
    content_hash = change["data"]["content_hash"]
    manager = console_factory("manager1")
    url = f"/cases/{change['id']}"
    page = manager.get(url).get_data(as_text=True)
    form = re.search(r'<form[^>]*data-action-form="approve".*?</form>', page, re.S)
    assert form, page[:500]
    field = re.search(r'<input name="p_content_hash"[^>]*>', form.group(0))
    assert field and f'value="{content_hash}"' in field.group(0)
    assert "readonly" in field.group(0)

    approved = manager.post(
        f"{url}/actions/approve",
        {"expected_version": str(change["version"]), "p_content_hash": content_hash},
        token_from=url,
    )
    assert approved.status_code in (200, 302, 303), approved.get_data(as_text=True)[:500]
    after = api.get("risk1", f"/api/v1/workflows/{change['id']}").get_json()
    assert after["state"] == "active", after["state"]
