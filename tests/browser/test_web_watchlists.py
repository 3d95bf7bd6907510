"""Watch-list management in a real Chromium: a risk officer opens 名单管理 from the navigation,
uploads a list file, lands on the import history with its counts, watches the re-screening
finish without reloading, and finds an entry by name; a bad file is refused with its row
named."""

from __future__ import annotations

from pathlib import Path

from tests.support.browser import Live


def test_a_risk_officer_uploads_a_list_and_finds_an_entry(
    sign_in, live: Live, tmp_path: Path
) -> None:
    good = tmp_path / "制裁名单.csv"
    good.write_text(
        "统一社会信用代码,名称,名单,原因,别名\n,浏览器制裁示例公司,sanctions,制裁,Browser Sanctioned Co\n",
        encoding="utf-8",
    )
    bad = tmp_path / "坏名单.csv"
    bad.write_text("统一社会信用代码,名称,名单,原因\n,某公司,greylist,x\n", encoding="utf-8")
    risk = sign_in("risk2")
    page = risk.page
    risk.goto("/inbox")
    page.click("nav a[href='/watchlists']")
    page.wait_for_selector("form[data-watchlist-upload]")

    page.set_input_files("form[data-watchlist-upload] input[type=file]", str(bad))
    page.click("[data-upload]")
    page.wait_for_selector("[data-watchlist-report] tr[data-row='2']")
    assert "greylist" in page.inner_text("[data-watchlist-report] tr[data-row='2']")
    assert [e for e in risk.errors if "422" not in e] == []  # the refusal is the page's 422
    risk.errors.clear()

    page.set_input_files("form[data-watchlist-upload] input[type=file]", str(good))
    page.click("[data-upload]")
    page.wait_for_url("**/watchlists/imports")
    assert "已导入 制裁名单.csv" in page.inner_text("main")
    live_row = page.inner_text("tr[data-import]:first-child")
    assert "risk2" in live_row and "制裁名单.csv" in live_row
    assert "重新筛查中" in live_row
    live.drain()  # the workers re-screen; the page, polling, shows it done
    page.wait_for_selector("tr[data-import]:first-child [data-rescreen='done']", timeout=15000)

    risk.goto("/watchlists/sanctions?q=浏览器")
    assert "浏览器制裁示例公司" in page.inner_text("main")
    assert "Browser Sanctioned Co" in page.inner_text("main")
    assert risk.errors == []
