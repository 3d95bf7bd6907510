"""Batch import in a real Chromium: a Chinese sheet previewed (the chosen file stays on the
form), then imported; the new client is in the list."""

from __future__ import annotations

from pathlib import Path

from tests.support.browser import Live
from tests.support.client_imports import code


def test_sales_preview_then_import_a_chinese_sheet(sign_in, live: Live, tmp_path: Path) -> None:
    sheet = tmp_path / "客户.csv"
    sheet.write_text(
        f"名称,统一社会信用代码,注册资本,联系人,联系电话\n西安浏览器导入有限公司,{code(77)},3000000,赵六,13900001111\n",
        encoding="utf-8",
    )
    sales = sign_in("sales2")
    page = sales.page
    sales.goto("/clients")
    page.click("[data-import-clients]")
    page.set_input_files("form[data-client-import] input[type=file]", str(sheet))
    page.click("[data-preview]")
    page.wait_for_selector("[data-counts]:has-text('仅预览')")
    assert "新增 1" in page.inner_text("[data-counts]")
    page.click("[data-import]")
    page.wait_for_url("**/clients")
    assert "西安浏览器导入有限公司" in page.inner_text("main")
    assert sales.errors == []
