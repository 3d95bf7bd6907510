"""A configuration change's case page presents the change, not a list of raw case data: the
kind in words with a link to its page, the version it would become over the one it was
drafted against, maker and reason, the content hash, the diff line by line (added and
removed lines marked) and the full draft as code; in zh-CN and in English."""

from __future__ import annotations

import re

from flask import Flask

from tests.support.app import USERS, Api, drain
from tests.support.config_changes import (
    active_content,
    approve,
    draft,
    drafted_and_backtested,
    soe_threshold_70,
)
from tests.support.console import Console
from tests.support.onboarding import new_client
from tests.support.page_walk import slips

REASON = "央企白名单阈值调整为 70%"


def english(console: Console) -> Console:
    with console.client.session_transaction() as session:
        session["lang"] = "en"
    return console


def read(console: Console, change_id: int, lang: str = "zh-CN") -> tuple[str, str]:
    """The case page and its change section; the page shows no raw value and no repr."""
    r = console.get(f"/cases/{change_id}")
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    page = r.get_data(as_text=True)
    assert slips(page, lang, frozenset(USERS)) == []
    section = re.search(r'<section class="card config-change".*?</section>', page, re.S)
    assert section, page[:500]
    return page, section.group(0)


def lines(section: str, cls: str) -> list[str]:
    return re.findall(rf'<span class="{cls}">([^<]*)</span>', section)


def test_a_rule_set_change_reads_as_the_change_in_both_languages(
    console_factory, app: Flask, api: Api
) -> None:
    content = soe_threshold_70(active_content(api)["content"])
    r = draft(api, "rule_set", content, reason=REASON)
    assert r.status_code == 201, r.get_json()
    drain(app)
    change = api.get("risk1", f"/api/v1/workflows/{r.get_json()['id']}").get_json()
    assert change["state"] == "awaiting_approval"
    data = change["data"]

    page, section = read(console_factory("manager1"), change["id"])
    assert 'data-config-change="rule_set"' in section
    assert '<a href="/config/rule_set">风险评级规则</a>' in section
    assert f'data-change-version="{data["version"]}">{data["version"]}<' in section
    assert f'data-change-base="{data["base_version"]}">{data["base_version"]}<' in section
    assert data["version"] == data["base_version"] + 1
    assert re.search(r"data-change-maker>\s*risk1\s*<", section)
    assert f"data-change-reason>{REASON}<" in section
    assert f'<code data-content-hash="{data["content_hash"]}">{data["content_hash"]}</code>' in (
        section
    )
    assert f"与起草时生效的版本 {data['base_version']} 的差异" in section
    assert any("state_ownership_pct &gt; 80.0" in line for line in lines(section, "del"))
    assert any("state_ownership_pct &gt; 70.0" in line for line in lines(section, "add"))
    assert any("70 %" in line or "70%" in line for line in lines(section, "add"))
    assert "state_ownership_pct &gt; 80.0" not in " ".join(lines(section, "add"))
    full = re.search(r'<pre class="code"><code>(.*?)</code></pre>', section, re.S)
    assert full and "state_ownership_pct &gt; 70.0" in full.group(1)
    assert "state_ownership_pct &gt; 80.0" not in full.group(1)
    assert "草稿完整内容" in section
    # the generic case data is not shown for a change, the backtest report still is
    assert "案件数据" not in page and "data-key=" not in page
    assert 'data-backtest="done"' in page and 'data-action="approve"' in page

    en_page, en = read(english(console_factory("risk2")), change["id"], "en")
    assert '<a href="/config/rule_set">Risk rating rules</a>' in en
    assert "Version it would become" in en and "Drafted over version" in en
    assert f"Changes against version {data['base_version']}, active when it was drafted" in en
    assert "Full content of the draft" in en and "Case data" not in en_page

    assert approve(api, change).status_code == 200
    _page, active = read(console_factory("auditor1"), change["id"])
    assert f'data-change-version="{data["version"]}">{data["version"]}<' in active
    assert "已生效为版本" in active and "生效后的版本" not in active


def test_a_workflow_definition_change_names_the_definition(
    console_factory, app: Flask, api: Api
) -> None:
    content = active_content(api, "definition:due_diligence")["content"]
    assert "sla: 10d" in content
    r = draft(api, "definition:due_diligence", content.replace("sla: 10d", "sla: 5d"), "admin")
    assert r.status_code == 201, r.get_json()
    change_id = r.get_json()["id"]

    _page, section = read(console_factory("admin"), change_id)  # still backtesting
    assert '<a href="/config/definition:due_diligence">流程定义：尽职调查</a>' in section
    assert any("sla: 10d" in line for line in lines(section, "del"))
    assert any("sla: 5d" in line for line in lines(section, "add"))
    _page, en = read(english(console_factory("risk1")), change_id, "en")
    assert "Workflow definition: Due-diligence review" in en
    assert "definition:due_diligence<" not in en


def test_other_cases_keep_their_case_data(console_factory, app: Flask, api: Api) -> None:
    drafted_and_backtested(app, api, "rule_set", soe_threshold_70(active_content(api)["content"]))
    case = api.post("sales1", f"/api/v1/clients/{new_client(api, 7)}/admission", json={})
    assert case.status_code == 201, case.get_json()
    page = console_factory("risk1").get(f"/cases/{case.get_json()['id']}").get_data(as_text=True)
    assert "案件数据" in page and "data-key=" in page and "config-change" not in page
