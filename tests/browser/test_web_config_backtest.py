"""A configuration change's backtest followed in a real Chromium: a risk officer files the
central-SOE draft from the editor and, on the change's page, without reloading, sees the
backtest waiting, then running (done of total), then its report with the client that
moves and the report hash; the page stops asking once it is finished."""

from __future__ import annotations

import re

from tests.support.app import Api
from tests.support.browser import Live
from tests.support.config_changes import SOE_75, backtest_running, soe_threshold_70
from tests.support.events import admitted_client

FRAGMENT = re.compile(r"/config/changes/\d+/backtest")


def test_filing_a_draft_shows_the_backtest_progress_then_its_report(sign_in, live: Live) -> None:
    api = Api(live.app.test_client())
    mover = admitted_client(live.app, api, 1, **SOE_75)  # rated S only at 70 %
    risk = sign_in("risk1")
    page = risk.page
    risk.goto("/config/rule_set")
    editor = page.locator("textarea[data-live-check]")
    editor.fill(soe_threshold_70(editor.input_value()))
    page.fill("textarea[name=reason]", "央企白名单阈值调整为 70%")
    page.click("form.card button[type=submit]")
    page.wait_for_url(re.compile(r".*/cases/\d+$"))
    change_id = int(page.url.rsplit("/", 1)[1])
    page.wait_for_selector("#backtest[data-backtest='waiting']")

    backtest_running(live.app, change_id, 1, 2)  # a worker between two chunks
    page.wait_for_selector("#backtest[data-backtest='running'] [data-progress][data-done='1']")
    assert "1 / 2" in page.inner_text("#backtest [data-progress]")
    assert "正在重新评级客户" in page.inner_text("#backtest [data-phase]")
    assert page.get_attribute("#backtest progress", "value") == "1"
    risk.shot("config-backtest-running-zh")

    live.drain()  # the worker runs the backtest to its end
    page.wait_for_selector("#backtest[data-backtest='done']")
    change = api.get("risk1", f"/api/v1/workflows/{change_id}").get_json()
    report_hash = change["data"]["backtest"]["hash"]
    assert page.get_attribute("#backtest [data-report-hash]", "data-report-hash") == report_hash
    assert page.locator(f"#backtest [data-mover='{mover}']").is_visible()
    assert page.locator("#backtest [data-segment='ownership_type']").is_visible()
    assert page.locator("#backtest [data-backtest-finished]").is_visible()
    assert "/cases/" in page.url  # the same page, never reloaded by hand
    risk.shot("config-backtest-done-zh")

    asked = sum(1 for url in risk.requests if FRAGMENT.search(url))
    page.wait_for_timeout(2500)
    assert sum(1 for url in risk.requests if FRAGMENT.search(url)) == asked  # no more polling
    assert risk.errors == []
