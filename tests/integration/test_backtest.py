"""Backtesting candidate configurations on history built through the API (SQLite and
PostgreSQL): what moves, the determinism check, failures, and not a row written."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest
import yaml
from flask import Flask
from sqlalchemy import func, select, update

from api.extensions import db
from tests.support.app import Api
from tests.support.due_diligence import checklist, open_case
from tests.support.due_diligence import make_client as dd_client
from tests.support.events import admitted_client, event, post_event
from tests.support.onboarding import A_FACTS, S_FACTS
from workflow.platform.db import Base
from workflow.risk.clients.model import Client
from workflow.risk.events.model import RatingRecord
from workflow.risk.governance.backtest import BacktestFailed, run_backtest

SOE_75 = {**S_FACTS, "state_ownership_pct": 75}
SOE_65 = {**S_FACTS, "state_ownership_pct": 65}


def shipped(name: str) -> str:
    return (files("definitions") / name).read_text(encoding="utf-8")


def rules_with_threshold(pct: str) -> bytes:
    rules = shipped("rules/default.yaml")
    assert "facts.state_ownership_pct > 80.0" in rules
    return (
        rules.replace("facts.state_ownership_pct > 80.0", f"facts.state_ownership_pct > {pct}")
        .replace("version: 1", "version: 2")
        .encode()
    )


def history(app: Flask, api: Api) -> dict[str, int]:
    """Admitted clients (S, A, and central SOEs at 75 % and 65 %), news that raises alerts."""
    ids = {
        "soe_90": admitted_client(app, api, 1, **S_FACTS, industry="能源", region="北京"),
        "soe_75": admitted_client(app, api, 2, **SOE_75, industry="能源", region="北京"),
        "soe_65": admitted_client(app, api, 3, **SOE_65, industry="能源", region="上海"),
        "private": admitted_client(app, api, 4, **A_FACTS, industry="制造业", region="上海"),
    }
    post_event(app, api, ids["private"], event("negative_news", "工厂停产", details="停产两周"))
    post_event(app, api, ids["private"], event("negative_news", "法院立案", details="被立案调查"))
    post_event(app, api, ids["soe_65"], event("business_change", "法定代表人变更"))
    return ids


def row_counts() -> dict[str, int]:
    with db.engine.connect() as conn:
        return {
            table.name: conn.execute(select(func.count()).select_from(table)).scalar_one()
            for table in Base.metadata.sorted_tables
        }


def backtest(app: Flask, kind: str, content: bytes, **kw: Any) -> dict[str, Any]:
    """The backtest in a session of the app, committed after: nothing may have changed."""
    with app.app_context():
        before = row_counts()
        try:
            report = run_backtest(db.session, kind, content, **kw)
            db.session.commit()
        finally:
            db.session.rollback()
        assert row_counts() == before
    return report


def test_lower_central_soe_threshold_moves_the_soe_at_75_percent(app: Flask, api: Api) -> None:
    ids = history(app, api)
    calls: list[tuple[int, int]] = []
    report = backtest(
        app, "rule_set", rules_with_threshold("70.0"), progress=lambda d, t: calls.append((d, t))
    )
    assert report["clients"] == 4
    assert report["changed"] == {"any": 1, "rating": 1, "risk_level": 0, "credit_limit": 0}
    assert report["rating_moves"] == {"A->S": 1}
    limits = report["credit_limit_total"]  # every limit at the cap already
    assert limits["active"] == limits["candidate"] == 4 * 50_000_000
    [mover] = report["movers"]
    assert mover["client_id"] == ids["soe_75"]
    assert (mover["from"]["rating"], mover["to"]["rating"]) == ("A", "S")
    assert report["segments"]["ownership_type"]["central_soe"] == {"clients": 3, "changed": 1}
    assert report["segments"]["region"]["北京"] == {"clients": 2, "changed": 1}
    assert report["segments"]["rating"]["A"]["changed"] == 1
    assert calls and calls[-1] == (4, 4)
    # the active version reproduces every decision it recorded
    determinism = report["determinism"]
    assert determinism["passed"] and determinism["mismatches"] == 0
    # three screenings and the two re-ratings by the news; the screening of the client
    # re-rated since recorded no facts and its record may have changed: not replayable
    assert (determinism["checked"], determinism["not_replayable"]) == (5, 1)
    assert determinism["other_version"] == 0

    # 60 % moves the SOE at 65 % too; the unchanged rule set moves nobody
    assert backtest(app, "rule_set", rules_with_threshold("60.0"))["changed"]["rating"] == 2
    unchanged = backtest(app, "rule_set", shipped("rules/default.yaml").encode())
    assert unchanged["changed"]["any"] == 0 and unchanged["movers"] == []


def test_determinism_check_reports_a_tampered_decision(app: Flask, api: Api) -> None:
    ids = history(app, api)
    with app.app_context():
        latest = {
            name: db.session.execute(
                select(RatingRecord)
                .where(RatingRecord.client_id == ids[name])
                .order_by(RatingRecord.id.desc())
                .limit(1)
            ).scalar_one()
            for name in ("soe_90", "private")
        }
        # the admission screening of the S client, and the re-rating by the news
        assert (latest["soe_90"].trigger, latest["soe_90"].rating) == ("screening", "S")
        assert latest["private"].trigger.startswith("event:")
        record_ids = {name: r.id for name, r in latest.items()}
        replayed_score = float(latest["private"].risk_score)
        for name, values in (("soe_90", {"rating": "B"}), ("private", {"risk_score": 12.5})):
            db.session.execute(
                update(RatingRecord).where(RatingRecord.id == latest[name].id).values(**values)
            )
        db.session.commit()
    determinism = backtest(app, "rule_set", rules_with_threshold("70.0"))["determinism"]
    assert not determinism["passed"] and determinism["mismatches"] == 2
    found = {m["record_id"]: m["fields"] for m in determinism["mismatched"]}
    assert found == {
        record_ids["soe_90"]: {"rating": {"recorded": "B", "replayed": "S"}},
        record_ids["private"]: {"risk_score": {"recorded": 12.5, "replayed": replayed_score}},
    }


def test_candidate_that_fails_is_refused_with_the_reason(app: Flask, api: Api) -> None:
    ids = history(app, api)
    with pytest.raises(BacktestFailed, match="scorecard: missing required key"):
        backtest(app, "rule_set", b"name: x\nversion: 1\nrating_rules: []\n")
    with pytest.raises(BacktestFailed, match="not valid YAML"):
        backtest(app, "alert_routing", b"routing: [unclosed")
    with app.app_context():
        client = db.session.get(Client, ids["soe_90"])
        assert client is not None
        client.facts = {"litigation_count": "many"}
        db.session.commit()
    with pytest.raises(BacktestFailed, match=f"client {ids['soe_90']}.*litigation_count") as info:
        backtest(app, "rule_set", rules_with_threshold("70.0"))
    assert info.value.status == 422


def test_the_session_refuses_writes_while_the_backtest_runs(app: Flask, api: Api) -> None:
    client_id = admitted_client(app, api, 1, **A_FACTS)
    rename = update(Client).where(Client.id == client_id).values(name="改名")
    with app.app_context():
        other = db.session.session_factory()  # another thread's session is not held back
        # (on SQLite every transaction begins IMMEDIATE: the backtest's holds the lock)
        concurrent = db.engine.dialect.name == "postgresql"

        others_wrote: list[int] = []

        def progress(done: int, total: int) -> None:
            if concurrent:
                others_wrote.append(other.execute(rename).rowcount)
                other.rollback()
            db.session.execute(rename)

        with pytest.raises(RuntimeError, match="must not write"):
            run_backtest(db.session, "rule_set", rules_with_threshold("70.0"), progress=progress)
        db.session.rollback()
        assert others_wrote == ([1] if concurrent else [])
        other.close()
        db.session.execute(rename)  # the guard is gone afterwards
        db.session.rollback()
    with pytest.raises(BacktestFailed, match="unknown configuration kind"):
        backtest(app, "no_such_kind", b"")
    with pytest.raises(BacktestFailed, match=r"\(document\): must be a mapping"):
        backtest(app, "definition:due_diligence", b"")


def test_monitoring_rules_over_the_last_days(app: Flask, api: Api) -> None:
    history(app, api)
    candidate = (
        shipped("rules/monitoring.yaml")
        .replace(
            "alert: {level: yellow, category: negative_news}",
            "alert: {level: red, category: negative_news}",
        )
        .replace("version: 1", "version: 2")
    )
    calls: list[tuple[int, int]] = []
    report = backtest(
        app,
        "monitoring_rules",
        candidate.encode(),
        days=30,
        progress=lambda d, t: calls.append((d, t)),
    )
    assert report["events"] == 3 and calls[-1] == (3, 3)
    active, proposed = report["active"], report["candidate"]
    assert active["by_level"] == {"red": 1, "yellow": 1}
    assert proposed["by_level"] == {"red": 2}
    assert (
        active["by_rule"]
        == proposed["by_rule"]
        == {
            "negative_news_operations_yellow": 1,
            "negative_news_serious_red": 1,
        }
    )
    assert active["by_category"] == {"negative_news": 2}
    assert report["events_differing"] == 0  # the same rules fire; their alert level differs

    # a condition that holds on the sample events but fails on a stored one
    client_id = admitted_client(app, api, 9, **A_FACTS)
    stored = post_event(
        app, api, client_id, event("abnormal_operation", "经营异常", data={"amount": "lots"})
    )
    failing = shipped("rules/monitoring.yaml").replace(
        "types: [abnormal_operation]",
        'types: [abnormal_operation]\n      when: "has(event.data.amount) && event.data.amount > 100"',
    )
    with pytest.raises(BacktestFailed, match=f"risk event {stored['id']}: .*No such overload"):
        backtest(app, "monitoring_rules", failing.encode())


def test_alert_routing_gives_the_inbox_load_per_person(app: Flask, api: Api) -> None:
    history(app, api)
    candidate = b"""
routing:
  client_owner: true
  roles: [risk_officer]
  rules:
    - when: {category: negative_news}
      users: [manager1]
sla:
  red: {respond: 1h, rectify: 7d}
"""
    report = backtest(app, "alert_routing", candidate)
    assert report["open_alerts"] == 2
    assert report["alerts_rerouted"] == 2
    assert report["per_person"]["manager1"] == {"active": 0, "candidate": 2}
    assert report["per_person"]["sales1"] == {"active": 2, "candidate": 2}
    assert report["per_role"]["manager"]["candidate"] >= 2
    with pytest.raises(BacktestFailed, match=r"routing.rules\[0\].when.owner"):
        backtest(app, "alert_routing", b"routing: {rules: [{when: {owner: x}}]}")


def test_dd_checklist_names_the_open_cases_that_would_miss_items(app: Flask, api: Api) -> None:
    submitted = open_case(api, dd_client(app))
    assert api.act("risk1", submitted["id"], "start").status_code == 200
    r = api.act("risk1", submitted["id"], "submit_for_review", checklist=checklist())
    assert r.status_code == 200, r.get_json()
    open_case(api, dd_client(app))
    items = {
        key: {"zh-CN": key, "en": key}
        for key in ("basic_info", "financials", "reputation", "legal_records", "sanctions")
    }
    report = backtest(app, "dd_checklist", yaml.safe_dump({"checklist": items}).encode())
    assert report["open_cases"] == 2
    assert (report["items_added"], report["items_removed"]) == (["sanctions"], ["compliance"])
    assert report["cases_without_checklist"] == 1
    [affected] = report["affected"]
    assert affected["instance_id"] == submitted["id"]
    assert (affected["missing"], affected["unknown"]) == (["sanctions"], ["compliance"])
