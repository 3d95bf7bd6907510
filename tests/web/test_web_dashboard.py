"""The management dashboard: each figure a chart with its numbers, for managers and
auditors only."""

from __future__ import annotations

import json
import re

from flask import Flask

from tests.support.console import new_client


def _panel(page: str, key: str) -> str:
    match = re.search(rf'data-panel="{key}">(.*?)</section>', page, re.S)
    assert match, key
    return match.group(1)


def test_open_alerts_by_level_and_stage_with_their_numbers(console_factory, app: Flask) -> None:
    client_id = new_client(console_factory("sales1"), app)
    risk = console_factory("risk1")
    for level, title in (("red", "A"), ("red", "B"), ("black", "C")):
        response = risk.post(
            "/alerts",
            {"client_id": str(client_id), "level": level, "category": "other", "title": title},
        )
        assert response.status_code == 302
    page = console_factory("manager1").get("/dashboard").get_data(as_text=True)
    alerts = _panel(page, "alerts")
    assert "未关闭预警" in page
    rows = re.findall(r"<tr><th>(.*?)</th><td class=\"num\">(\d+)</td></tr>", alerts)
    assert [(name.replace("&middot;", "·"), int(n)) for name, n in rows] == [
        ("黑色 · 已预警", 1),
        ("红色 · 已预警", 2),
    ], rows
    chart = json.loads(
        re.search(r'data-chart="([^"]+)"', alerts)
        .group(1)
        .replace("&#34;", '"')
        .replace("&quot;", '"')
    )
    assert chart["datasets"][0]["data"] == [1, 2]
    assert console_factory("sales1").get("/dashboard").status_code == 403
    assert console_factory("auditor1").get("/dashboard").status_code == 200
