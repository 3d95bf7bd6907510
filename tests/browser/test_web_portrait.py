"""The client portrait and its risk report in a real Chromium, in zh-CN and in English:
every tab, the rating chart drawn from the local Chart.js, the PDF downloaded and the
print version opened; sales see the tabs without the financials."""

from __future__ import annotations

import pytest

from tests.support.browser import Live, User
from tests.support.portrait import NAME, portrait_client

TABS_ZH = ("概览", "工商背景", "司法诉讼", "舆情与事件", "预警", "案件", "评级历史", "合同")
TABS_EN = (
    "Overview",
    "Business background",
    "Litigation and court records",
    "News and events",
    "Alerts",
    "Cases",
    "Rating history",
    "Contracts",
)


@pytest.fixture(scope="module")
def client_id(live: Live) -> int:
    return portrait_client(live.app)


def walk_tabs(user: User, client_id: int, titles: tuple[str, ...]) -> dict[str, str]:
    """Click through every tab; the text of each tab's body."""
    page = user.page
    user.goto(f"/clients/{client_id}")
    assert [t.strip() for t in page.locator("nav.tabs a").all_inner_texts()] == list(titles)
    bodies = {}
    for title in titles:
        page.locator("nav.tabs a", has_text=title).first.click()
        page.wait_for_selector(f"nav.tabs a.on:text-is('{title}')")
        bodies[title] = page.inner_text(".tab-body")
    return bodies


def open_report(user: User, client_id: int, overview: str) -> str:
    """Download the PDF from the overview's button (checked to be a PDF), then open the
    print version; its text."""
    user.page.locator("nav.tabs a", has_text=overview).first.click()
    user.page.wait_for_selector("[data-report-pdf]")
    with user.page.expect_download() as info:
        user.page.click("[data-report-pdf]")
    with open(info.value.path(), "rb") as pdf:  # noqa: PTH123
        assert pdf.read(5) == b"%PDF-"
    user.goto(f"/clients/{client_id}/report?format=html")
    return user.page.inner_text("body")


def test_the_portrait_and_report_in_chinese(sign_in, live: Live, client_id: int) -> None:
    risk = sign_in("risk1")
    bodies = walk_tabs(risk, client_id, TABS_ZH)
    assert "25,000,000.00" in bodies["概览"] and "18,000,000" not in bodies["概览"]
    assert "涉诉频繁" in bodies["概览"] and "重点客户" in bodies["概览"]
    assert "法定代表人变更" in bodies["工商背景"] and "50,000,000.00" in bodies["工商背景"]
    assert "买卖合同纠纷一审" in bodies["司法诉讼"] and "杭州市中级人民法院" in bodies["司法诉讼"]
    assert "媒体报道拖欠货款" in bodies["舆情与事件"]
    assert "HT-2026-001" in bodies["合同"]
    risk.page.locator("nav.tabs a", has_text="评级历史").first.click()
    risk.page.wait_for_selector("canvas[data-chart][data-drawn='1']")
    assert "已生效" in risk.page.inner_text(".tab-body")
    risk.shot("client-portrait-ratings-zh")
    text = open_report(risk, client_id, "概览")
    assert NAME in text and "风险报告" in text and "评级历史" in text and "25,000,000.00" in text
    risk.shot("client-report-zh")
    assert risk.errors == [] and risk.only_local_requests()


def test_the_portrait_and_report_in_english(sign_in, live: Live, client_id: int) -> None:
    risk = sign_in("risk1", "en")
    bodies = walk_tabs(risk, client_id, TABS_EN)
    assert "Credit limit" in bodies["Overview"] and "25,000,000.00" in bodies["Overview"]
    assert "System risk tags" in bodies["Overview"]
    assert "Litigation" in bodies["Litigation and court records"]
    assert "Business change" in bodies["Business background"]
    assert "applied" in bodies["Rating history"]
    risk.shot("client-portrait-en")
    text = open_report(risk, client_id, "Overview")
    assert "Risk report" in text and "Rating history" in text and "风险报告" not in text
    risk.shot("client-report-en")
    assert risk.errors == [] and risk.only_local_requests()


def test_sales_see_the_portrait_without_financials(sign_in, live: Live, client_id: int) -> None:
    sales = sign_in("sales1")
    bodies = walk_tabs(sales, client_id, TABS_ZH)
    text = "".join(bodies.values())
    for secret in ("25,000,000", "50,000,000", "3,000,000", "杭州市中级人民法院"):
        assert secret not in text, secret
    assert sales.page.locator("[data-report-pdf]").count() == 0
    assert sales.errors == []
