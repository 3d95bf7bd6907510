"""The client portrait in the console: every tab for every role that may see the client,
masking for sales, system tags apart from manual ones, the current limit never beside a
stale one, and the report download."""

from __future__ import annotations

import re
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from flask import Flask

from api.extensions import db
from tests.support.portrait import NAME, add_event, add_rating, portrait_client
from workflow.platform import clock
from workflow.risk.clients.model import Client

TABS = {
    "overview": "风险报告",
    "background": "法定代表人变更",
    "legal": "买卖合同纠纷一审",
    "events": "媒体报道拖欠货款",
    "alerts": "该客户暂无预警",
    "cases": "该客户暂无案件",
    "ratings": "评级历史",
    "contracts": "HT-2026-001",
}
READERS = ("sales1", "risk1", "legal1", "manager1", "auditor1")


@pytest.fixture
def client_id(app: Flask) -> int:
    return portrait_client(app)


def tab(console, client_id: int, name: str) -> str:  # noqa: ANN001
    response = console.get(f"/clients/{client_id}?tab={name}")
    assert response.status_code == 200, (name, response.status_code)
    return response.get_data(as_text=True)


def test_every_tab_opens_for_every_role_that_sees_the_client(console_factory, client_id) -> None:
    for username in READERS:
        console = console_factory(username)
        for name, text in TABS.items():
            page = tab(console, client_id, name)
            assert NAME in page and text in page, (username, name)
            assert f'data-tab="{name}" aria-current="page"' in page
        assert console.get(f"/clients/{client_id}?tab=nope").status_code == 404
    assert console_factory("sales2").get(f"/clients/{client_id}").status_code == 404
    assert console_factory("admin").get(f"/clients/{client_id}").status_code == 403


def test_sales_see_no_financials_on_any_tab(console_factory, client_id) -> None:
    sales = console_factory("sales1")
    pages = "".join(tab(sales, client_id, name) for name in TABS)
    for secret in ("25,000,000", "18,000,000", "50,000,000", "3,000,000", "62.5", "杭州市中级"):
        assert secret not in pages, secret
    assert "6222020000111122223" not in pages and "2223" in pages  # last four digits only
    assert "data-report-pdf" not in pages
    assert "涉诉三次及以上" not in pages
    assert sales.get(f"/clients/{client_id}/report").status_code == 403
    risk = "".join(tab(console_factory("risk1"), client_id, name) for name in TABS)
    for shown in ("25,000,000.00", "50,000,000.00", "3,000,000.00", "62.5", "杭州市中级人民法院"):
        assert shown in risk, shown
    assert "<dt>法院</dt>" in risk and "1,250,000.00 元" in risk  # an event's extras, worded


def test_system_tags_are_shown_apart_from_manual_ones(console_factory, client_id) -> None:
    page = tab(console_factory("risk1"), client_id, "overview")
    manual = re.search(r"data-manual-tags>(.*?)</dd>", page, re.S).group(1)
    system = re.search(r"data-system-tags>(.*?)</dd>", page, re.S).group(1)
    assert "重点客户" in manual and "涉诉频繁" not in manual
    assert "涉诉频繁" in system and "重点客户" not in system
    assert "已过期标签" not in page  # expired tags are history, not current


def test_the_report_shows_the_current_limit_never_the_stale_one(
    console_factory, client_id, app: Flask
) -> None:
    """Given a client screened with an 18 M limit whose limit a sensitive edit raised to
    25 M, the overview shows 25 M and no explanation stating 18 M."""
    risk = console_factory("risk1")
    card = re.search(r"data-current-rating>(.*?)</section>", tab(risk, client_id, "overview"), re.S)
    assert "25,000,000.00" in card.group(1) and "18,000,000" not in card.group(1)
    assert "data-stale-explanation" in card.group(1)
    assert "涉诉三次及以上" not in card.group(1)
    # when a rating record states the current values, its reasons explain them
    with app.app_context():
        add_rating(
            client_id,
            "B",
            "62.5",
            "medium",
            25_000_000,
            at=clock.now(),
            before="B",
            reasons=[
                {
                    "id": "limit_review",
                    "rating": "B",
                    "reason": {"zh-CN": "额度复核", "en": "Limit review"},
                }
            ],
        )
        db.session.commit()
    card = re.search(r"data-current-rating>(.*?)</section>", tab(risk, client_id, "overview"), re.S)
    assert "额度复核" in card.group(1) and "data-stale-explanation" not in card.group(1)


def test_the_screening_explains_the_rating_while_it_matches(
    console_factory, client_id, app: Flask
) -> None:
    with app.app_context():
        db.session.get(Client, client_id).credit_limit = Decimal(18_000_000)
        # the latest rating record states 18 M too, so it explains the current values
        db.session.commit()
    card = re.search(
        r"data-current-rating>(.*?)</section>",
        tab(console_factory("risk1"), client_id, "overview"),
        re.S,
    ).group(1)
    assert "18,000,000.00" in card and "data-stale-explanation" not in card
    assert "涉诉三次及以上" in card  # the screening's rule, as the record gives no reasons


def test_the_rating_history_is_a_chart_with_its_table(console_factory, client_id) -> None:
    page = tab(console_factory("manager1"), client_id, "ratings")
    assert "data-chart=" in page and "chart-4.6.1.umd.min.js" in page
    rows = re.findall(r"<tr><td>[^<]*</td><td><b>([SABCD])</b>", page)
    assert rows == ["B", "A"]  # newest first
    assert "已生效" in page  # the outcome, worded


def test_the_report_downloads_as_pdf_and_html_in_the_console_language(
    console_factory, client_id
) -> None:
    risk = console_factory("risk1")
    pdf = risk.get(f"/clients/{client_id}/report")
    assert pdf.status_code == 200 and pdf.data.startswith(b"%PDF-")
    page = risk.get(f"/clients/{client_id}/report?format=html").get_data(as_text=True)
    assert "风险报告" in page and "25,000,000.00" in page
    risk.post("/language", {"lang": "en", "next": "/inbox"})
    page = risk.get(f"/clients/{client_id}/report?format=html").get_data(as_text=True)
    assert "Risk report" in page and "Rating history" in page


@pytest.fixture
def thursday_client(app: Flask) -> int:
    """The portrait client on a Thursday: its rating change two days ago is this week's."""
    clock.freeze(datetime(2026, 12, 10, 10, 0))
    return portrait_client(app)


def test_risk_officers_open_the_dashboard_with_active_clients_and_the_week(
    console_factory, thursday_client, app: Flask
) -> None:
    client_id = thursday_client
    prospect = console_factory("sales1")
    with app.app_context():
        other = db.session.get(Client, client_id)
        # a client rated D at screening and then rejected carries no live rating
        db.session.add(
            Client(
                name="未准入客户",
                credit_code="91110000000000000X",
                owner="sales1",
                status="rejected",
                rating="D",
                risk_level="high",
                created_by="sales1",
            )
        )
        add_event(client_id, "litigation", "本周新诉讼", days_ago=0, received_at=clock.now())
        add_event(
            client_id,
            "litigation",
            "上月旧诉讼",
            days_ago=40,
            received_at=clock.now() - timedelta(days=40),
        )
        assert other.status == "active"
        db.session.commit()
    assert prospect.get("/dashboard").status_code == 403
    page = console_factory("risk1").get("/dashboard").get_data(as_text=True)
    ratings = re.search(r'data-panel="ratings">(.*?)</section>', page, re.S).group(1)
    counts = dict(re.findall(r"<tr><th>([SABCD])</th><td class=\"num\">(\d+)</td></tr>", ratings))
    assert counts == {"S": "0", "A": "0", "B": "1", "C": "0", "D": "0"}
    events = re.search(r'data-panel="events">(.*?)</section>', page, re.S).group(1)
    assert "司法诉讼" in events
    changes = re.search(r'data-panel="rating-changes">(.*?)</section>', page, re.S).group(1)
    assert NAME in changes and "A → <b>B</b>" in changes


def test_the_record_history_words_its_values(console_factory, client_id) -> None:
    page = tab(console_factory("risk1"), client_id, "overview")
    history = page[page.index("timeline") :]
    assert "{'" not in history and "['" not in history  # no Python reprs
    assert "50,000,000.00 元" in history  # money in yuan
    assert "涉诉案件数: 3" in history and "付款记录: 良好" in history  # facts worded
    assert "赵六 · 139****1111 · z@example.com" in history  # a contact as text
