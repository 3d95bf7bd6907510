"""A rule set shipped by a deployment, waiting for a manager in the console: the case
names the deployment as its maker and the file it came from, in Chinese."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from tests.support.app import Api
from tests.support.config_changes import restart, shipped_changes, shipped_v3


def test_a_manager_reads_the_shipped_change_in_the_console(
    console_factory, app: Flask, api: Api, db_url: str, tmp_path: Path
) -> None:
    rules = shipped_v3(tmp_path)
    restart(db_url, rules)
    [change] = shipped_changes(app, api, "rule_set")
    page = console_factory("manager1").get(f"/cases/{change['id']}").get_data(as_text=True)
    assert "随部署发布的文件" in page and str(rules) in page
    assert "系统 · 部署" in page
    assert "system:deployment" not in page and "shipped_from" not in page.replace(
        'data-key="shipped_from"', ""
    )
