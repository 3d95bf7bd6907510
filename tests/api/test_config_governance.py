"""Governed configuration through the API (issue 18): a risk officer drafts the central-SOE
threshold change, it is backtested, the maker may not approve it, a manager approves its
hash, and the next admission is rated by the new version without a restart."""

from __future__ import annotations

import threading
import time
from datetime import datetime
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from api.extensions import db, runtime_of
from tests.support.alerts import alert_body, make_client
from tests.support.app import PASSWORD, Api, drain, make_app
from tests.support.config_changes import (
    SOE_70,
    SOE_75,
    active_content,
    approve,
    close,
    draft,
    drafted_and_backtested,
    open_app,
    soe_threshold_70,
)
from tests.support.onboarding import admit, new_client
from workflow.accounts import users as accounts
from workflow.errors import ConfigurationError
from workflow.platform import clock
from workflow.records.config_versions import CHECK_SECONDS, ConfigVersion
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance
from workflow.risk.clients.model import Client
from workflow.risk.governance.active import active_rule_set


def test_the_central_soe_threshold_moves_under_four_eyes_without_a_restart(
    app: Flask, api: Api, db_url: str, tmp_path: Path
) -> None:
    before = admit(app, api, new_client(api, 1, **SOE_75))
    assert before["data"]["screening"]["rating"] != "S"

    active = active_content(api)
    change = drafted_and_backtested(app, api, "rule_set", soe_threshold_70(active["content"]))
    data = change["data"]
    assert data["version"] == active["version"] + 1
    assert f"+    when: \"facts.ownership_type == 'central_soe' && {SOE_70}\"" in data["diff"]
    assert data["backtest"]["report"]["kind"] == "rule_set"
    assert len(data["backtest"]["hash"]) == 64

    refused = approve(api, change, user="risk1")
    assert refused.status_code == 403, refused.get_json()

    # another process over the same database, already screening with the old version
    other = open_app(db_url)
    with other.app_context():
        assert active_rule_set(db.session).version == active["version"]

    done = approve(api, change)
    assert done.status_code == 200, done.get_json()
    assert done.get_json()["to_state"] == "active"

    after = admit(app, api, new_client(api, 2, **SOE_75))
    assert after["data"]["screening"]["rating"] == "S"
    assert after["data"]["screening"]["fired_rules"][0]["id"] == "central_soe_whitelist"

    listed = {k["kind"]: k for k in api.get("manager1", "/api/v1/config").get_json()}
    assert listed["rule_set"]["version"] == data["version"]
    assert listed["rule_set"]["content_hash"] == data["content_hash"]
    assert listed["rule_set"]["approved_by"] == "manager1"
    with app.app_context():
        record = db.session.execute(
            select(AuditRecord.payload).where(AuditRecord.kind == "config.activated")
        ).scalar_one()
    assert record["maker"] == "risk1" and record["checker"] == "manager1"
    assert record["old_hash"] == active["content_hash"]
    assert record["new_hash"] == data["content_hash"]
    assert record["backtest_hash"] == data["backtest"]["hash"]

    report = api.get("auditor1", "/api/v1/audit/verify").get_json()
    assert report["ok"] is True, report

    # the other process was told nothing: it finds the new version on its next check
    deadline = time.monotonic() + CHECK_SECONDS + 1.0
    with other.app_context():
        while (rules := active_rule_set(db.session)).version != data["version"]:
            assert time.monotonic() < deadline, "the other process kept the old rule set"
            time.sleep(0.1)
        facts = {"ownership_type": "central_soe", "state_ownership_pct": 75.0}
        assert rules.evaluate(facts).rating == "S"
    close(other)
    # and so does a process started now
    fresh = open_app(db_url)
    with fresh.app_context():
        assert active_rule_set(db.session).version == data["version"]
    close(fresh)


def test_a_draft_that_does_not_validate_is_refused_with_every_error(app: Flask, api: Api) -> None:
    content = active_content(api)["content"]
    broken = (
        content.replace(SOE_80_EXPR, "facts.state_ownership_pct > 70.0")  # reason says 80 %
        .replace('when: "facts.blacklisted"', 'when: "facts.blacklisted &&"')
        .replace(
            "rating: D\n    reason:\n      zh-CN: 客户被列为",
            "rating: Z\n    reason:\n      zh-CN: 客户被列为",
        )
        .replace(
            "weight: 0.25\n      applies:",
            "weight: 0.5\n      applies:",
        )
    )
    r = draft(api, "rule_set", broken)
    assert r.status_code == 422, r.get_json()
    problems = r.get_json()["errors"]["content"]
    keys = {p["key"] for p in problems}
    assert {
        "rating_rules[0].when",
        "rating_rules[1].rating",
        "rating_rules[2].reason.zh-CN",
        "rating_rules[2].reason.en",
        "scorecard.indicators",
    } <= keys, problems
    assert all(p["file"] and p["message"] for p in problems)
    reason = next(p for p in problems if p["key"] == "rating_rules[2].reason.zh-CN")
    assert "80" in reason["message"] and "70" in reason["message"]
    with app.app_context():
        changes = db.session.execute(
            select(WorkflowInstance.id).where(WorkflowInstance.definition == "config_change")
        ).all()
    assert changes == []


SOE_80_EXPR = "facts.state_ownership_pct > 80.0"


@pytest.mark.parametrize(
    ("kind", "content", "key"),
    [
        ("rule_set", "name: [unclosed", "(document)"),
        (
            "monitoring_rules",
            "name: m\nrules:\n  - id: x\n    match: {types: [nope]}\n    actions: {}\n",
            "rules[0].match.types[0]",
        ),
        (
            "alert_routing",
            "sla: {red: {respond: soon}}\nrouting: {roles: [janitor]}\n",
            "sla.red.respond",
        ),
        (
            "alert_routing",
            "sla: {red: {respond: 4h}}\nrouting:\n  channels: [{type: fax, url: 'x'}]\n",
            "routing.channels[0]",
        ),
        ("dd_checklist", "checklist: {basic_info: {zh-CN: 基本信息}}\n", "checklist.basic_info"),
    ],
)
def test_each_kind_names_the_key_of_a_bad_draft(
    module_api: Api, kind: str, content: str, key: str
) -> None:
    r = draft(module_api, kind, content)
    assert r.status_code == 422, r.get_json()
    assert key in {p["key"] for p in r.get_json()["errors"]["content"]}, r.get_json()


def test_who_may_draft_and_read(api: Api) -> None:
    assert draft(api, "rule_set", "x", user="sales1").status_code == 403
    assert draft(api, "rule_set", "x", user="manager1").status_code == 403
    assert draft(api, "no_such_kind", "x").status_code == 404
    assert api.get("sales1", "/api/v1/config").status_code == 403
    assert api.get("auditor1", "/api/v1/config/dd_checklist").status_code == 200
    assert api.get("risk1", "/api/v1/config/no_such_kind").status_code == 404
    r = api.post("risk1", "/api/v1/config/rule_set/drafts", json={"content": "x"})
    assert r.status_code == 422 and "reason" in r.get_json()["errors"]
    unchanged = draft(api, "rule_set", active_content(api)["content"])
    assert unchanged.status_code == 422, unchanged.get_json()
    assert "unchanged" in unchanged.get_json()["detail"]
    change = draft(api, "rule_set", soe_threshold_70(active_content(api)["content"])).get_json()
    assert api.get("sales1", f"/api/v1/workflows/{change['id']}").status_code == 404
    assert api.get("manager1", f"/api/v1/workflows/{change['id']}").status_code == 200


def test_a_maker_who_is_also_a_manager_may_not_approve_their_own_change(
    app: Flask, api: Api
) -> None:
    with app.app_context():
        accounts.create_user(
            db.session, "riskboss", PASSWORD, ["risk_officer", "manager"], by=Actor.system("test")
        )
        db.session.commit()
    r = draft(api, "rule_set", soe_threshold_70(active_content(api)["content"]), user="riskboss")
    assert r.status_code == 201, r.get_json()
    drain(app)
    change = api.get("riskboss", f"/api/v1/workflows/{r.get_json()['id']}").get_json()
    refused = approve(api, change, user="riskboss")
    assert refused.status_code == 403, refused.get_json()
    assert refused.get_json()["rule"] == "not_initiator"
    assert approve(api, change).status_code == 200


def test_the_checker_approves_the_exact_content_hash(app: Flask, api: Api) -> None:
    change = drafted_and_backtested(
        app, api, "rule_set", soe_threshold_70(active_content(api)["content"])
    )
    r = approve(api, change, content_hash="0" * 64)
    assert r.status_code == 409, r.get_json()
    # the refusal's machine code is a member of the problem document (issue 18)
    assert r.mimetype == "application/problem+json"
    assert r.get_json()["code"] == "config.hash_mismatch"
    assert (
        api.get("risk1", f"/api/v1/workflows/{change['id']}").get_json()["state"]
        == "awaiting_approval"
    )
    assert approve(api, change).status_code == 200


def test_two_drafts_of_one_kind_give_one_active_version_and_one_clean_refusal(
    app: Flask, api: Api
) -> None:
    content = active_content(api)["content"]
    first = drafted_and_backtested(app, api, "rule_set", soe_threshold_70(content))
    second = drafted_and_backtested(
        app, api, "rule_set", content.replace("cap: 50000000", "cap: 40000000")
    )
    assert approve(api, first).status_code == 200
    r = approve(api, second)
    assert r.status_code == 409, r.get_json()
    assert r.get_json()["code"] == "config.stale_draft"
    assert (
        api.get("risk1", f"/api/v1/workflows/{second['id']}").get_json()["state"]
        == "awaiting_approval"
    )
    with app.app_context():
        rows = db.session.execute(
            select(ConfigVersion.version, ConfigVersion.status).where(
                ConfigVersion.kind == "rule_set"
            )
        ).all()
    assert sorted(rows) == [(2, "superseded"), (first["data"]["version"], "active")]


def test_two_approvals_at_the_same_moment_activate_one_version(app: Flask, api: Api) -> None:
    content = active_content(api)["content"]
    changes = [
        drafted_and_backtested(app, api, "rule_set", soe_threshold_70(content)),
        drafted_and_backtested(
            app, api, "rule_set", content.replace("round_to: 10000", "round_to: 1000")
        ),
    ]
    barrier = threading.Barrier(2)
    statuses: list[int] = []

    def approve_in_thread(change: dict) -> None:
        checker = Api(app.test_client())
        checker.token("manager1")
        barrier.wait()
        statuses.append(approve(checker, change).status_code)

    threads = [threading.Thread(target=approve_in_thread, args=(c,)) for c in changes]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(60)
    assert sorted(statuses) == [200, 409]
    with app.app_context():
        active = (
            db.session.execute(
                select(ConfigVersion.change_id).where(
                    ConfigVersion.kind == "rule_set", ConfigVersion.status == "active"
                )
            )
            .scalars()
            .all()
        )
    assert len(active) == 1 and active[0] in {c["id"] for c in changes}


def test_a_failing_backtest_leaves_the_change_unpublishable_with_the_reason(
    app: Flask, api: Api
) -> None:
    client_id = make_client(app)
    with app.app_context():
        client = db.session.get(Client, client_id)
        assert client is not None
        client.rating, client.facts = "A", {"litigation_count": "many"}  # stored bad data
        db.session.commit()
    r = draft(api, "rule_set", soe_threshold_70(active_content(api)["content"]))
    assert r.status_code == 201, r.get_json()
    drain(app)
    change = api.get("risk1", f"/api/v1/workflows/{r.get_json()['id']}").get_json()
    assert change["state"] == "backtesting"
    failed = change["data"]["backtest"]["failed"]
    assert f"client {client_id}" in failed and "litigation_count" in failed
    refused = approve(api, change)
    assert refused.status_code == 409, refused.get_json()
    assert (
        api.act("risk1", change["id"], "withdraw", expected_version=change["version"]).status_code
        == 200
    )


def test_the_maker_withdraws_a_draft(app: Flask, api: Api) -> None:
    change = drafted_and_backtested(
        app,
        api,
        "dd_checklist",
        active_content(api, "dd_checklist")["content"].replace("合规情况", "合规与反洗钱"),
    )
    assert api.act("risk2", change["id"], "withdraw").status_code == 403
    assert api.act("risk1", change["id"], "withdraw").status_code == 200


def test_an_approved_checklist_reaches_the_due_diligence_cases(app: Flask, api: Api) -> None:
    content = active_content(api, "dd_checklist")["content"]
    new = content.replace(
        "  compliance:", "  sanctions:\n    zh-CN: 制裁筛查\n    en: Sanctions\n  compliance:"
    )
    change = drafted_and_backtested(app, api, "dd_checklist", new)
    assert approve(api, change).status_code == 200
    from workflow.risk.governance.overlay import governed_settings

    with app.app_context():
        settings = governed_settings(
            db.session, "dd_checklist", runtime_of(app).catalog.get("due_diligence").settings
        )
    assert list(settings["checklist"])[-2:] == ["sanctions", "compliance"]


@pytest.mark.usefixtures("webhook_secret")
def test_approved_alert_routing_reaches_the_next_alert(app: Flask, api: Api) -> None:
    content = active_content(api, "alert_routing")["content"]
    assert "respond: 24h" in content
    faster = content.replace("respond: 24h", "respond: 12h").replace(
        "roles:\n  - risk_officer\n", "roles:\n  - risk_officer\n  - legal\n", 1
    )
    assert faster.count("legal") > content.count("legal")
    change = drafted_and_backtested(app, api, "alert_routing", faster)
    assert approve(api, change).status_code == 200
    clock.freeze(datetime(2026, 11, 23, 2, 0))
    case = api.post("risk1", "/api/v1/alerts", json=alert_body(make_client(app))).get_json()
    assert case["sla_due_at"] == "2026-11-23T14:00:00+00:00"
    assert "legal1" in case["assignees"]


def test_a_shipped_file_edited_without_a_new_version_stops_start_up(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    shipped = Path(__file__).parents[2] / "definitions" / "rules" / "default.yaml"
    edited = tmp_path / "rules.yaml"
    edited.write_text(
        shipped.read_text(encoding="utf-8").replace("cap: 50000000", "cap: 1"), encoding="utf-8"
    )
    close(make_app(db_url, tmp_path))
    with pytest.raises(ConfigurationError) as refused:
        open_app(db_url, RISKLOOP_RULE_SET=str(edited))
    message = str(refused.value)
    assert str(edited) in message and "version 2" in message and "raise `version`" in message
    assert refused.value.extra["stored_hash"] != refused.value.extra["file_hash"]
    # a comment-only edit is the same content: accepted
    edited.write_text(shipped.read_text(encoding="utf-8") + "\n# reviewed\n", encoding="utf-8")
    close(open_app(db_url, RISKLOOP_RULE_SET=str(edited)))
