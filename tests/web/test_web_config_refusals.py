"""A manager's approval of a configuration change refused in the console (the hash they
typed is not the change's, or another version became active since the draft) keeps the
change's case page and says why in the reader's language, not the generic "someone acted
first" page with the validator's English."""

from __future__ import annotations

from flask import Flask

from tests.support.app import Api
from tests.support.config_changes import (
    active_content,
    approve,
    drafted_and_backtested,
    soe_threshold_70,
)
from tests.support.console import Console


def approve_in_console(console: Console, change: dict, content_hash: str) -> tuple[int, str]:
    r = console.post(
        f"/cases/{change['id']}/actions/approve",
        {"expected_version": str(change["version"]), "p_content_hash": content_hash},
        token_from=f"/cases/{change['id']}",
    )
    return r.status_code, r.get_data(as_text=True)


def test_a_wrong_hash_and_a_stale_draft_are_refused_on_the_case_page_in_chinese(
    console_factory, app: Flask, api: Api
) -> None:
    rules = soe_threshold_70(active_content(api)["content"])
    change = drafted_and_backtested(app, api, "rule_set", rules)
    manager = console_factory("manager1")

    status, page = approve_in_console(manager, change, "0" * 64)
    assert status == 409
    assert f"您批准的内容哈希与本变更的内容哈希（{change['data']['content_hash']}）不一致" in page
    assert 'data-config-change="rule_set"' in page  # the change's case page, not an error page
    assert "is not this change's content hash" not in page and "已有人先处理" not in page

    other = drafted_and_backtested(
        app, api, "rule_set", rules.replace("{rating: A, min: 85}", "{rating: A, min: 80}")
    )
    assert approve(api, change).status_code == 200
    status, page = approve_in_console(manager, other, other["data"]["content_hash"])
    assert status == 409
    assert "起草本变更后已有另一个版本生效，本变更无法批准" in page
    assert "draft the change again" not in page and "已有人先处理" not in page


def test_the_inbox_and_the_case_list_name_a_change_by_its_kind_and_version(
    console_factory, app: Flask, api: Api
) -> None:
    change = drafted_and_backtested(
        app, api, "rule_set", soe_threshold_70(active_content(api)["content"])
    )
    manager = console_factory("manager1")
    for path in ("/inbox", "/cases?definition=config_change"):
        page = manager.get(path).get_data(as_text=True)
        row = page[page.index(f'<a href="/cases/{change["id"]}">') :]
        row = row[: row.index("</tr>")]
        assert f"风险评级规则，版本 {change['data']['version']}" in row, (path, row)
        assert "<td>config</td>" not in row, (path, row)
