"""The slips a Chinese risk team found in the console (issue 19), each read on the page that
showed it: codes in words, a closed case's badge once, revisions, evidence and alert numbers
named for what they are, bars against full marks, the audit list newest first, no tab that
only refuses."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from tests.support.world import seed_world


@pytest.fixture
def app(module_app: Flask) -> Flask:
    """One app for the module: its tests only read pages of one world."""
    return module_app


@pytest.fixture(scope="module")
def world(module_app: Flask) -> dict[str, int]:
    return seed_world(module_app)


def page(console_factory, user: str, path: str, lang: str | None = None) -> str:
    console = console_factory()
    if lang:
        with console.client.session_transaction() as session:
            session["lang"] = lang
    console.login(user)
    response = console.get(path)
    assert response.status_code == 200, path
    return response.get_data(as_text=True)


def test_a_closed_alert_says_closed_once_and_names_its_alert_number(console_factory, world):
    html = page(console_factory, "risk1", f"/cases/{world['closed_alert']}")
    heading = re.search(r"<h1>.*?</h1>", html, re.S).group(0)
    assert heading.count("已关闭") == 1
    assert "修订号" in html and ">版本<" not in html
    assert re.search(r"<dt>预警编号</dt><dd data-alert-number>预警 #1</dd>", html)
    alerts = page(console_factory, "risk1", f"/clients/{world['portrait']}?tab=alerts")
    assert "<th>预警编号</th><th>案件编号</th>" in alerts
    assert f">案件 #{world['closed_alert']}</a>" in alerts


def test_due_diligence_evidence_checklist_and_outcome_in_words(console_factory, world):
    html = page(console_factory, "risk1", f"/cases/{world['review']}")
    assert "整改证明" not in html and "证明材料" in html
    assert "<dt>基本信息</dt>" in html and "basic info" not in html
    assert "<dt>结果</dt><dd>通过</dd>" in html
    parent = page(console_factory, "risk1", f"/cases/{world['admission']}")
    assert "due diligence #" not in parent and "系统 · 尽职调查" in parent


def test_industries_statuses_and_amounts_read_in_words(console_factory, world):
    zh = page(console_factory, "risk1", "/clients/2")
    assert "制造业" in zh and ">manufacturing<" not in zh
    en = page(console_factory, "risk1", "/clients/2", "en")
    assert "Manufacturing" in en
    history = page(console_factory, "risk1", "/clients/1")
    assert "准入审批中" in history and "pending_admission" not in history
    change = page(console_factory, "risk1", f"/cases/{world['change']}")
    assert "30,000,000.00 元" in change and "30000000.0" not in change
    notes = page(console_factory, "risk1", "/notifications")
    assert "风险事件 #" in notes and "event:" not in notes


def test_indicator_bars_are_drawn_against_full_marks(console_factory, world):
    html = page(console_factory, "risk1", "/cases/1")  # the S-rated energy group
    widths = [float(w) for w in re.findall(r'class="fill" style="width: ([\d.]+)%"', html)]
    assert widths and max(widths) == 100.0  # a full-marks indicator fills its bar
    assert re.search(r'<span class="num">[\d.]+ / [\d.]+</span>', html)


def test_the_audit_record_list_is_newest_first_with_events_in_words(console_factory, world):
    html = page(console_factory, "auditor1", "/audit/records")
    ids = [int(n) for n in re.findall(r'data-record="(\d+)"', html)]
    assert len(ids) > 10 and ids == sorted(ids, reverse=True)
    assert "准入生效" in html or "创建" in html
    assert "client.created" not in re.sub(r'value="[^"]*"', "", html)


def test_an_admin_is_not_shown_the_clients_tab(console_factory, world):
    html = page(console_factory, "admin", "/inbox", "en")
    assert 'href="/clients"' not in html
    assert 'href="/clients"' in page(console_factory, "auditor1", "/inbox", "en")


def test_an_overdue_payment_history_reads_as_overdue_not_as_a_missed_deadline(app: Flask) -> None:
    from web.display import indicator_value, plain_value

    with app.test_request_context("/"):
        assert indicator_value("payment_history", "overdue") == "逾期"
        assert plain_value("payment_history", "overdue") == "逾期"
