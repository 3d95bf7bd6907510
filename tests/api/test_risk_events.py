"""Risk events: intake by API and signed batches, the default monitoring rules,
thresholds over windows, failing rules, and rows written by other code handled once."""

from __future__ import annotations

import json
import threading
from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import func, select

from api.extensions import db, runtime_of
from tests.support.alerts import SECRET, make_client, now_unix
from tests.support.app import Api, drain
from tests.support.config_changes import approve, drafted_and_backtested
from tests.support.events import (
    admitted_client,
    alerts_of,
    event,
    post_batch,
    post_event,
    ratings_of,
    stored_event,
    tags_of,
)
from tests.support.onboarding import A_FACTS, client_row
from workflow.platform import clock
from workflow.records.models import AuditRecord, Incident
from workflow.risk.alerts.webhook import sign
from workflow.risk.clients.model import client_stream
from workflow.risk.events import processor
from workflow.risk.events.model import RiskEvent

pytestmark = pytest.mark.usefixtures("webhook_secret")


def count(app: Flask, model) -> int:  # noqa: ANN001
    with app.app_context():
        return db.session.execute(select(func.count()).select_from(model)).scalar_one()


# --- intake -----------------------------------------------------------------------------


def test_an_event_is_recorded_once_per_source_and_external_id_and_listed_newest_first(
    app: Flask, api: Api
) -> None:
    cid = make_client(app)
    body = event("business_change", "法定代表人变更", details="由张三变更为李四")
    first = api.post("risk1", f"/api/v1/clients/{cid}/events", json=body)
    assert first.status_code == 201, first.get_json()
    again = api.post("legal1", f"/api/v1/clients/{cid}/events", json=body)
    assert again.status_code == 200 and again.get_json()["id"] == first.get_json()["id"]
    assert api.post("sales1", f"/api/v1/clients/{cid}/events", json=body).status_code == 403
    assert api.get("sales1", f"/api/v1/clients/{cid}/events").status_code == 403
    drain(app)
    listed = api.get("auditor1", f"/api/v1/clients/{cid}/events").get_json()
    assert [e["id"] for e in listed["items"]] == [first.get_json()["id"]]
    assert listed["items"][0]["outcome"]["fired"] == []  # no rule is about business changes
    assert count(app, RiskEvent) == 1


def test_an_invalid_event_is_refused_per_field(app: Flask, api: Api) -> None:
    cid = make_client(app)
    r = api.post(
        "risk1",
        f"/api/v1/clients/{cid}/events",
        json={"type": "rumour", "title": "", "occurred_at": "2300-01-01T00:00:00Z"},
    )
    assert r.status_code == 422
    assert set(r.get_json()["errors"]) >= {"type", "title", "occurred_at"}
    assert (
        api.post("risk1", "/api/v1/clients/999999/events", json=event("other", "x")).status_code
        == 404
    )


def test_a_signed_batch_stores_the_good_events_and_names_each_bad_one(app: Flask, api: Api) -> None:
    cid = make_client(app)
    code = client_row(app, cid).credit_code
    seen = event("business_change", "经营范围变更")
    assert post_batch(api, {"events": [{**seen, "client_id": cid}]}).status_code == 200
    batch = [
        {**event("litigation", "买卖合同纠纷"), "client_id": cid},
        {**event("negative_news", "拖欠货款"), "credit_code": code.lower()},
        {**event("rumour", "坊间传闻"), "client_id": cid},
        {**event("litigation", "借款合同纠纷"), "client_id": 999_999},
        {"type": "litigation", "title": "无来源", "client_id": cid},
        {**seen, "client_id": cid},
    ]
    r = post_batch(api, {"events": batch})
    assert r.status_code == 200, r.get_json()
    result = r.get_json()
    assert (result["accepted"], result["refused"]) == (3, 3)
    statuses = [item["status"] for item in result["results"]]
    assert statuses == ["created", "created", "refused", "refused", "refused", "duplicate"]
    assert "type" in result["results"][2]["errors"]
    assert "client_id" in result["results"][3]["errors"]
    assert {"source", "external_id"} <= set(result["results"][4]["errors"])
    assert count(app, RiskEvent) == 3


def test_unsigned_or_badly_signed_batches_are_refused_and_nothing_is_stored(
    app: Flask, api: Api
) -> None:
    cid = make_client(app)
    body = {"events": [{**event("litigation", "纠纷"), "client_id": cid}]}
    raw = json.dumps(body).encode()
    ts = now_unix()
    assert post_batch(api, body, signed=False).status_code == 401
    assert post_batch(api, body, secret="guess").status_code == 401
    tampered = api.client.post(
        "/api/v1/events/webhook",
        data=raw.replace(b"litigation", b"other"),
        content_type="application/json",
        headers={
            "X-Riskloop-Timestamp": str(ts),
            "X-Riskloop-Signature": sign(SECRET, str(ts), raw),
        },
    )
    assert tampered.status_code == 401
    assert count(app, RiskEvent) == 0
    too_many = {"events": [body["events"][0]] * 1001}
    assert post_batch(api, too_many).status_code == 422


# --- the default monitoring rules -------------------------------------------------------


def test_a_dishonest_debtor_event_raises_a_black_alert_suspends_tags_and_rates_d(
    app: Flask, api: Api
) -> None:
    cid = admitted_client(app, api, 11, **A_FACTS)
    assert client_row(app, cid).rating == "A"
    posted = post_event(app, api, cid, event("dishonest_debtor", "被列为失信被执行人"))
    assert [a[:2] for a in alerts_of(app, cid)] == [("black", "dishonest_debtor")]
    assert tags_of(app, cid) == ["失信被执行人"]
    client = client_row(app, cid)
    assert (client.status, client.rating, client.risk_level, int(client.credit_limit)) == (
        "suspended",
        "D",
        "high",
        0,
    )
    outcome = stored_event(app, posted["id"]).outcome
    assert [f["rule"] for f in outcome["fired"]] == ["dishonest_debtor_black"]
    assert outcome["rating"]["outcome"] == "applied"


@pytest.mark.parametrize(
    "certainty, alerts, tags",
    [
        ("certain", [("black", "watchlist_hit")], ["名单命中"]),
        ("possible", [("red", "watchlist_hit")], ["疑似名单命中"]),
    ],
)
def test_a_watchlist_hit_is_black_when_certain_and_red_when_possible(
    app: Flask, api: Api, certainty: str, alerts: list, tags: list
) -> None:
    cid = admitted_client(app, api, 12, **A_FACTS)
    data = {
        "list": "blacklist",
        "name": "示例",
        "score": 100,
        "match": "exact",
        "certainty": certainty,
    }
    post_event(app, api, cid, event("watchlist_hit", "名单命中：黑名单", data=data))
    assert [a[:2] for a in alerts_of(app, cid)] == alerts
    assert tags_of(app, cid) == tags
    assert client_row(app, cid).rating == ("D" if certainty == "certain" else "A")


@pytest.mark.parametrize(
    "title, details, expected",
    [
        ("公司被法院立案调查", "", [("red", "negative_news")]),
        ("媒体报道", "员工反映公司长期欠薪", [("yellow", "negative_news")]),
        ("Company news", "BANKRUPTCY rumours: 破产 重整", [("red", "negative_news")]),
        ("新品发布会", "市场反响平平", []),
    ],
)
def test_negative_news_keywords_raise_red_or_yellow_alerts(
    app: Flask, api: Api, title: str, details: str, expected: list
) -> None:
    cid = make_client(app)
    post_event(app, api, cid, event("negative_news", title, details=details))
    assert [a[:2] for a in alerts_of(app, cid)] == expected


def test_keywords_given_with_the_event_match_too(app: Flask, api: Api) -> None:
    cid = make_client(app)
    post_event(app, api, cid, event("negative_news", "舆情", keywords=["停产"]))
    assert [a[:2] for a in alerts_of(app, cid)] == [("yellow", "negative_news")]


def test_abnormal_operation_raises_a_red_alert_and_a_tag_that_expires(app: Flask, api: Api) -> None:
    cid = make_client(app)
    clock.freeze(datetime(2026, 11, 1, 8, 0))
    post_event(app, api, cid, event("abnormal_operation", "被列入经营异常名录"))
    assert [a[:2] for a in alerts_of(app, cid)] == [("red", "abnormal_operation")]
    with app.app_context():
        assert processor.current_tags(db.session, cid, clock.now()) == ["经营异常"]
        later = clock.now() + timedelta(days=366)
        assert processor.current_tags(db.session, cid, later) == []


NOW = datetime(2026, 11, 20, 8, 0)


def lawsuits(app: Flask, api: Api, client_id: int, *, days_ago: tuple[int, ...]) -> None:
    """Lawsuits that occurred ``days_ago`` before NOW (the clock frozen there)."""
    clock.freeze(NOW)
    for days in days_ago:
        when = (NOW - timedelta(days=days)).isoformat()
        post_event(app, api, client_id, event("litigation", "合同纠纷", occurred_at=when))


def test_three_lawsuits_within_90_days_raise_a_red_alert_once_the_third_arrives(
    app: Flask, api: Api
) -> None:
    cid = admitted_client(app, api, 13, **A_FACTS)
    lawsuits(app, api, cid, days_ago=(89, 45))
    assert alerts_of(app, cid) == []
    third = post_event(app, api, cid, event("litigation", "借款纠纷"))
    assert alerts_of(app, cid) == [
        ("red", "litigation", f"litigation_three_in_90_days:{third['id']}")
    ]
    assert "频繁涉诉" in tags_of(app, cid)
    # a fourth while that loop is open: the window still holds, no second alert
    fourth = post_event(app, api, cid, event("litigation", "租赁纠纷"))
    assert len(alerts_of(app, cid)) == 1
    fired = stored_event(app, fourth["id"]).outcome["fired"]
    assert fired[0]["actions"][0] == {"action": "alert", "alert_id": 1, "created": False}
    # three lawsuits move the litigation indicator: re-rated at once, worse
    history = ratings_of(app, cid)
    assert [r.trigger for r in history][:1] == ["screening"]
    assert history[-1].trigger == f"event:{fourth['id']}"
    assert client_row(app, cid).rating == history[-1].rating


def test_a_lawsuit_exactly_90_days_old_is_outside_the_window(app: Flask, api: Api) -> None:
    cid = make_client(app)
    lawsuits(app, api, cid, days_ago=(90, 30))
    post_event(app, api, cid, event("litigation", "纠纷"))
    assert alerts_of(app, cid) == []
    # a day later the oldest in the window is 89 days old: a fourth one makes three
    clock.freeze(NOW + timedelta(days=1))
    api.tokens.clear()  # the day-old token has expired
    post_event(app, api, cid, event("litigation", "纠纷"))
    assert [a[:2] for a in alerts_of(app, cid)] == [("red", "litigation")]


# --- failure and exactly-once ------------------------------------------------------------


FAILING_RULES = """
name: failing
version: 1
rules:
  - id: amount_over_limit
    match:
      types: [litigation]
      when: "event.data.size() == 0 || event.data.amount > 100"
    actions:
      alert: {level: red, category: litigation}
  - id: every_lawsuit_tagged
    match:
      types: [litigation]
    actions:
      tag: {name: 涉诉}
"""


def test_a_rule_that_fails_on_an_event_raises_an_incident_and_the_others_still_act(
    app: Flask, api: Api
) -> None:
    # the rules in force are the database's: publish them as a governed change
    change = drafted_and_backtested(app, api, "monitoring_rules", FAILING_RULES)
    assert approve(api, change).status_code == 200
    cid = make_client(app)
    posted = post_event(app, api, cid, event("litigation", "纠纷", data={"court": "上海一中院"}))
    assert tags_of(app, cid) == ["涉诉"]
    assert alerts_of(app, cid) == []
    outcome = stored_event(app, posted["id"]).outcome
    assert [f["rule"] for f in outcome["fired"]] == ["every_lawsuit_tagged"]
    assert [e["rule"] for e in outcome["errors"]] == ["amount_over_limit"]
    with app.app_context():
        incidents = db.session.execute(select(Incident)).scalars().all()
        assert [i.task for i in incidents] == ["monitoring:amount_over_limit"]
        kinds = (
            db.session.execute(
                select(AuditRecord.kind).where(AuditRecord.stream == client_stream(cid))
            )
            .scalars()
            .all()
        )
        assert "monitoring.failed" in kinds


def test_a_watchlist_hit_inserted_directly_is_handled_exactly_once(app: Flask, api: Api) -> None:
    cid = admitted_client(app, api, 14, **A_FACTS)
    clock.freeze(datetime(2026, 11, 20, 8, 0))
    with app.app_context():
        row = RiskEvent(
            client_id=cid,
            type="watchlist_hit",
            title="名单命中：失信被执行人",
            details="",
            keywords=[],
            data={
                "list": "dishonest_debtor",
                "name": "示例",
                "score": 100,
                "match": "exact",
                "certainty": "certain",
                "entry_id": 7,
            },
            source="watchlist",
            external_id=f"dishonest_debtor:7:{cid}",
            occurred_at=clock.now(),
            received_at=clock.now(),
            recorded_by="system:watchlist",
            outcome=None,  # as another writer may say it: stored as SQL NULL, swept
        )
        db.session.add(row)
        db.session.commit()
        event_id = row.id
    # the sweep leaves rows younger than its grace to their own message
    with app.app_context():
        processor.sweep(db.session, clock.now(), {})
        db.session.commit()
    assert stored_event(app, event_id).outcome is None
    clock.advance(timedelta(minutes=1))
    with app.app_context():
        processor.sweep(db.session, clock.now(), {})
        db.session.commit()
    with app.app_context():  # a second sweep and a redelivered message act no more
        processor.sweep(db.session, clock.now(), {})
        assert processor.process_event(db.session, event_id) is None
        db.session.commit()
    assert [a[:2] for a in alerts_of(app, cid)] == [("black", "watchlist_hit")]
    assert stored_event(app, event_id).outcome["fired"][0]["rule"] == "watchlist_certain_black"
    client = client_row(app, cid)
    assert (client.status, client.rating) == ("suspended", "D")
    assert [r.outcome for r in ratings_of(app, cid)] == ["applied", "applied"]


def test_two_workers_on_the_same_event_act_once(app: Flask, api: Api) -> None:
    cid = make_client(app)
    with app.app_context():
        row = RiskEvent(
            client_id=cid,
            type="dishonest_debtor",
            title="被列为失信被执行人",
            source="court",
            external_id="SX-1",
            occurred_at=clock.now(),
            received_at=clock.now(),
            recorded_by="system:court",
        )
        db.session.add(row)
        db.session.commit()
        event_id = row.id
    factory = runtime_of(app).session_factory
    results: list[object] = []
    start = threading.Barrier(2)

    def worker() -> None:
        with factory() as session:
            start.wait()
            results.append(processor.process_event(session, event_id))
            session.commit()

    threads = [threading.Thread(target=worker) for _ in range(2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(r is None for r in results) == [False, True]
    assert [a[:2] for a in alerts_of(app, cid)] == [("black", "dishonest_debtor")]
    assert tags_of(app, cid) == ["失信被执行人"]
