"""A configuration change's backtest in the console: the case page shows it waiting, then
running (done of total, the phase) by polling a fragment, then the report (the clients
that move, by segment) with its hash; a failed one its reason and that the draft cannot
be published. The fragment is for the readers of configuration, as the API's progress."""

from __future__ import annotations

import re

from flask import Flask

from api.extensions import db
from tests.support.alerts import make_client
from tests.support.app import USERS, Api, drain
from tests.support.config_changes import (
    SOE_75,
    active_content,
    backtest_running,
    draft,
    soe_threshold_70,
)
from tests.support.console import Console
from tests.support.events import admitted_client
from tests.support.onboarding import new_client
from tests.support.page_walk import slips
from workflow.risk.clients.model import Client


def fragment_url(change_id: int) -> str:
    return f"/config/changes/{change_id}/backtest"


def english(console: Console) -> Console:
    with console.client.session_transaction() as session:
        session["lang"] = "en"
    return console


def read(console: Console, path: str, lang: str = "zh-CN") -> str:
    """The page or fragment; its backtest section shows no raw value and no repr."""
    r = console.get(path)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    body = r.get_data(as_text=True)
    section = re.search(r'<section class="card backtest".*?</section>', body, re.S)
    assert section, body[:500]
    assert slips(section.group(0), lang, frozenset(USERS)) == []
    return body


def test_the_case_page_follows_the_backtest_to_its_report(
    console_factory, app: Flask, api: Api
) -> None:
    mover = admitted_client(app, api, 1, **SOE_75)  # not S at 80 %, S at 70 %
    risk = console_factory("risk1")
    content = active_content(api)["content"]
    filed = risk.post(
        "/config/rule_set",
        {"content": soe_threshold_70(content), "reason": "央企白名单阈值调整为 70%"},
        token_from="/config/rule_set",
    )
    assert filed.status_code == 302
    case_url = filed.headers["Location"]
    change_id = int(case_url.rsplit("/", 1)[1])

    # filed: waiting for the worker; the page polls the fragment every second
    page = read(risk, case_url)
    assert 'data-backtest="waiting"' in page
    assert f'hx-get="{fragment_url(change_id)}?polled=1"' in page and "every 1s" in page
    assert "等待后台任务开始回测" in page
    assert 'data-key="backtest"' not in page  # not again among the case data

    manager = console_factory("manager1")
    backtest_running(app, change_id, 1, 2)  # a worker between two chunks
    running = read(manager, fragment_url(change_id) + "?polled=1")
    assert 'data-backtest="running"' in running and "every 1s" in running
    assert 'data-done="1" data-total="2"' in running and 'value="1"' in running
    assert "已重放 1 / 2（50%）" in running and "正在重新评级客户" in running
    en = read(english(console_factory("auditor1")), fragment_url(change_id), "en")
    assert "1 / 2 replayed (50%)" in en and "Re-rating the clients" in en

    drain(app)  # the worker runs the backtest to its end
    change = api.get("manager1", f"/api/v1/workflows/{change_id}").get_json()
    assert change["state"] == "awaiting_approval"
    report_hash = change["data"]["backtest"]["hash"]
    done = read(manager, fragment_url(change_id) + "?polled=1")
    assert 'data-backtest="done"' in done
    assert "hx-get" not in done and "every 1s" not in done  # polling stops
    assert f'data-report-hash="{report_hash}"' in done
    assert "data-backtest-finished" in done  # the poller is told to reload for the actions
    assert f'data-mover="{mover}"' in done
    moves = change["data"]["backtest"]["report"]["rating_moves"]
    assert re.findall(r'data-move="([^"]+)"', done) == [m.replace("->", "-") for m in moves]
    segment = re.search(r'data-segment="ownership_type">.*?</table>', done, re.S)
    assert segment and "中央国有企业" in segment.group(0)  # the segment worded, not central_soe
    assert 'data-determinism="passed"' in done
    en = read(english(console_factory("risk2")), fragment_url(change_id), "en")
    assert "Clients that move" in en and "Finished" in en and report_hash in en

    page = read(manager, case_url)
    assert 'data-backtest="done"' in page and 'hx-trigger="every 1s"' not in page
    assert f'data-report-hash="{report_hash}"' in page
    assert "data-backtest-finished" not in page  # read on a fresh page: nothing to reload
    assert 'data-action="approve"' in page


def test_a_failed_backtest_shows_its_reason_and_that_the_draft_cannot_be_published(
    console_factory, app: Flask, api: Api
) -> None:
    client_id = make_client(app)
    with app.app_context():
        client = db.session.get(Client, client_id)
        assert client is not None
        client.rating, client.facts = "A", {"litigation_count": "many"}  # stored bad data
        db.session.commit()
    r = draft(api, "rule_set", soe_threshold_70(active_content(api)["content"]))
    assert r.status_code == 201, r.get_json()
    change_id = r.get_json()["id"]
    drain(app)

    risk = console_factory("risk1")
    failed = read(risk, fragment_url(change_id) + "?polled=1")
    assert 'data-backtest="failed"' in failed and "hx-get" not in failed
    assert "回测失败。失败原因" in failed
    reason = re.search(r"data-backtest-reason>([^<]*)<", failed)
    assert reason and f"client {client_id}" in reason.group(1)
    assert "litigation_count" in reason.group(1)
    assert "此草稿无法发布" in failed
    page = read(risk, f"/cases/{change_id}")
    assert 'data-backtest="failed"' in page and "此草稿无法发布" in page
    assert 'data-action="withdraw"' in page
    manager = read(console_factory("manager1"), f"/cases/{change_id}")
    assert 'data-action="approve"' not in manager
    en = read(english(console_factory("manager1")), fragment_url(change_id), "en")
    assert "This draft cannot be published" in en and "The backtest failed." in en


def test_the_fragment_is_for_readers_of_configuration_and_a_change(
    console_factory, app: Flask, api: Api
) -> None:
    r = draft(api, "rule_set", soe_threshold_70(active_content(api)["content"]))
    change_id = r.get_json()["id"]
    assert console_factory("sales1").get(fragment_url(change_id)).status_code == 403
    assert console_factory("legal1").get(fragment_url(change_id)).status_code == 403
    for reader in ("risk2", "manager1", "auditor1", "admin"):
        response = console_factory(reader).get(fragment_url(change_id))
        assert response.status_code == 200, reader
        assert 'data-backtest="waiting"' in response.get_data(as_text=True)
    manager = console_factory("manager1")
    assert manager.get(fragment_url(change_id + 999)).status_code == 404
    admission = api.post("sales1", f"/api/v1/clients/{new_client(api, 9)}/admission", json={})
    assert admission.status_code == 201  # a case, but not a configuration change
    assert manager.get(fragment_url(admission.get_json()["id"])).status_code == 404

    # withdrawn by its maker before the backtest ran: no report, and no more polling
    assert api.act("risk1", change_id, "withdraw").status_code == 200
    stopped = read(manager, fragment_url(change_id) + "?polled=1")
    assert 'data-backtest="stopped"' in stopped and "hx-get" not in stopped
    assert "没有回测报告" in stopped
