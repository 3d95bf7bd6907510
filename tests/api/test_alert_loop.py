"""The alert loop end to end through the API: webhook intake, owners, respond, rectify,
reopen, review, dismiss, segregation of duties, black-alert suspension and the audit trail."""

from __future__ import annotations

import pytest

from api.extensions import db, runtime_of
from tests.support.alerts import alert_body, make_client, post_signed
from tests.support.app import drain
from workflow.records.models import AuditRecord
from workflow.risk.clients.model import Client

pytestmark = pytest.mark.usefixtures("webhook_secret")  # alert intake is open


def client_status(app, client_id: int) -> tuple[str, str | None]:
    with app.app_context():
        c = db.session.get(Client, client_id)
        return c.status, c.status_before_suspension


def test_a_webhook_alert_reaches_its_owners_and_runs_to_closed_with_a_reopen(app, api):
    cid = make_client(app, owner="sales1")
    r = post_signed(api, alert_body(cid, level="red", category="payment_overdue"))
    assert r.status_code == 201, r.get_json()
    alert = r.get_json()
    case = alert["id"]
    assert alert["state"] == "warned" and alert["definition"] == "alert_remediation"
    # Default routing: the client's owner plus the risk team.
    assert alert["alert"]["owners"] == ["risk1", "risk2", "sales1"]
    assert alert["sla_due_at"] is not None
    drain(app)
    inbox = api.get("sales1", "/api/v1/notifications").get_json()
    assert inbox["unread_count"] == 1 and inbox["items"][0]["event"] == "alert_raised"
    assert inbox["items"][0]["instance_id"] == case

    # sales2 is not an owner: cannot even see it; sales1 responds.
    assert api.act("sales2", case, "respond", assessment="a", plan="p").status_code == 404
    r = api.act("sales1", case, "respond", assessment="逾期 30 天", plan="催收并减少授信")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["instance"]["state"] == "responded"
    r = api.act("sales1", case, "rectify", evidence="已回款 80%")
    assert r.get_json()["instance"]["state"] == "rectified"
    # The rectifier cannot review (maker-checker), a risk officer can reopen.
    assert api.act("sales1", case, "review").status_code == 403
    r = api.act("risk1", case, "reopen")
    assert r.status_code == 422  # a reopen needs a comment saying why
    r = api.act("risk1", case, "reopen", comment="证据不足：缺少回款凭证")
    assert r.status_code == 200 and r.get_json()["instance"]["state"] == "responded"
    assert r.get_json()["instance"]["data"]["reopens"] == 1
    r = api.act("sales1", case, "rectify", evidence="回款凭证 #A-17")
    assert r.get_json()["instance"]["state"] == "rectified"
    r = api.act("risk2", case, "review", comment="整改到位")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["instance"]["state"] == "closed"
    assert r.get_json()["instance"]["available_actions"] == []

    listed = api.get("risk1", f"/api/v1/alerts?client_id={cid}").get_json()["items"]
    assert [(i["id"], i["state"], i["alert"]["reopens"]) for i in listed] == [(case, "closed", 1)]
    trail = api.get("auditor1", f"/api/v1/workflows/{case}/audit").get_json()["items"]
    assert [(a["trigger"], a["actor"], a["to_state"]) for a in trail] == [
        (None, "system:webhook", "warned"),
        ("respond", "sales1", "responded"),
        ("rectify", "sales1", "rectified"),
        ("reopen", "risk1", "responded"),
        ("rectify", "sales1", "rectified"),
        ("review", "risk2", "closed"),
    ]
    assert all(a["at"] for a in trail)


def test_a_risk_officer_dismisses_a_false_positive_with_a_reason_but_not_their_own_response(
    app, api
):
    cid = make_client(app)
    case = api.post("risk1", "/api/v1/alerts", json=alert_body(cid, level="yellow")).get_json()[
        "id"
    ]
    api.act("risk1", case, "respond", assessment="疑似误报", plan="核实")
    r = api.act("risk1", case, "dismiss", reason="同名企业")
    assert r.status_code == 403 and r.get_json()["rule"] == "not_actor_of"
    assert api.act("risk2", case, "dismiss").status_code == 422
    assert api.act("sales1", case, "dismiss", reason="x").status_code == 403
    r = api.act("risk2", case, "dismiss", reason="同名企业，非本客户")
    assert r.status_code == 200 and r.get_json()["instance"]["state"] == "dismissed"
    assert r.get_json()["instance"]["data"]["dismissal"]["reason"] == "同名企业，非本客户"
    assert api.act("risk2", case, "review").status_code == 409


def test_a_black_alert_suspends_the_client_until_every_black_loop_is_closed_or_dismissed(app, api):
    cid = make_client(app, status="active")
    first = post_signed(api, alert_body(cid, level="black", category="dishonest_debtor")).get_json()
    assert client_status(app, cid) == ("suspended", "active")
    assert "manager1" in first["alert"]["owners"] and "legal1" in first["alert"]["owners"]
    second = api.post("risk1", "/api/v1/alerts", json=alert_body(cid, level="black")).get_json()
    assert client_status(app, cid) == ("suspended", "active")

    api.act("sales1", first["id"], "respond", assessment="a", plan="p")
    api.act("sales1", first["id"], "rectify", evidence="e")
    assert api.act("risk1", first["id"], "review").status_code == 200
    assert client_status(app, cid) == ("suspended", "active")  # the second black loop is open

    api.act("sales1", second["id"], "respond", assessment="a", plan="p")
    assert api.act("risk2", second["id"], "dismiss", reason="误报").status_code == 200
    assert client_status(app, cid) == ("active", None)
    with app.app_context():
        kinds = [
            r.kind
            for r in db.session.query(AuditRecord)
            .filter(AuditRecord.stream == f"client:{cid}")
            .order_by(AuditRecord.seq)
        ]
    assert kinds == ["client.suspended", "client.reinstated"]


def test_a_red_alert_leaves_the_client_status_alone(app, api):
    cid = make_client(app, status="active")
    assert api.post("risk1", "/api/v1/alerts", json=alert_body(cid, level="red")).status_code == 201
    assert client_status(app, cid) == ("active", None)


def test_alerts_filter_by_level_state_client_owner_and_breached_with_a_cursor(app, api):
    a = make_client(app, owner="sales1")
    b = make_client(app, owner="sales2")
    ids = [
        api.post("risk1", "/api/v1/alerts", json=alert_body(c, level=lvl)).get_json()["id"]
        for c, lvl in [(a, "yellow"), (a, "red"), (b, "red"), (b, "yellow")]
    ]
    api.act("risk1", ids[1], "respond", assessment="a", plan="p")

    def listed(user: str, query: str = "") -> list[int]:
        r = api.get(user, f"/api/v1/alerts?{query}")
        assert r.status_code == 200, r.get_json()
        return [i["id"] for i in r.get_json()["items"]]

    assert listed("risk1") == ids[::-1]
    assert listed("risk1", "level=red") == [ids[2], ids[1]]
    assert listed("risk1", "state=responded") == [ids[1]]
    assert listed("risk1", f"client_id={b}") == [ids[3], ids[2]]
    assert listed("risk1", "owner=sales2") == [ids[3], ids[2]]
    assert listed("risk1", "breached=true") == []
    assert listed("risk1", "breached=false") == ids[::-1]
    assert listed("sales1") == [ids[1], ids[0]]  # sales see alerts on their own clients
    page = api.get("risk1", "/api/v1/alerts?limit=3").get_json()
    assert len(page["items"]) == 3 and page["next_cursor"]
    rest = api.get("risk1", f"/api/v1/alerts?limit=3&cursor={page['next_cursor']}").get_json()
    assert [i["id"] for i in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    assert api.get("risk1", "/api/v1/alerts?level=green").status_code == 422


def test_routing_rules_add_owners_by_level_category_region_and_industry(app, api):
    from workflow.risk.alerts.routing import route

    cid = make_client(app, owner="sales2", region="深圳", industry="real_estate")
    routing = {
        "client_owner": True,
        "roles": [],
        "rules": [
            {"when": {"region": "深圳"}, "users": ["risk2"]},
            {"when": {"industry": ["real_estate", "finance"], "level": "red"}, "roles": ["legal"]},
            {"when": {"category": "litigation"}, "users": ["manager1"], "client_owner": False},
        ],
    }
    with app.app_context():
        client = db.session.get(Client, cid)
        assert route(db.session, routing, client, "yellow", "other") == ["risk2", "sales2"]
        assert route(db.session, routing, client, "red", "other") == ["legal1", "risk2", "sales2"]
        assert route(db.session, routing, client, "yellow", "litigation") == ["manager1", "risk2"]
        defaults = runtime_of(app).catalog.get("alert_remediation").settings["routing"]
        assert route(db.session, defaults, client, "red", "litigation") == [
            "legal1",
            "risk1",
            "risk2",
            "sales2",
        ]


def test_bad_intake_is_refused_with_a_problem_document_and_nothing_stored(app, api):
    cid = make_client(app)
    cases = [
        (api.post("risk1", "/api/v1/alerts", json=alert_body(999999)), 422),
        (api.post("risk1", "/api/v1/alerts", json=alert_body(cid, level="purple")), 422),
        (api.post("risk1", "/api/v1/alerts", json=alert_body(cid, category="weather")), 422),
        (api.post("risk1", "/api/v1/alerts", json=alert_body(cid, colour="red")), 422),
        (api.post("risk1", "/api/v1/alerts", json={"client_id": cid}), 422),
        (api.post("risk1", "/api/v1/alerts", json=alert_body(2**70)), 422),
        (api.post("risk1", f"/api/v1/notifications/{2**70}/read"), 404),
        (api.post("sales1", "/api/v1/alerts", json=alert_body(cid)), 403),
        (api.post("auditor1", "/api/v1/alerts", json=alert_body(cid)), 403),
        (api.post(None, "/api/v1/alerts", json=alert_body(cid)), 401),
        (post_signed(api, alert_body(cid, level="purple")), 422),
        (post_signed(api, {k: v for k, v in alert_body(cid).items() if k != "external_id"}), 422),
    ]
    for response, status in cases:
        assert response.status_code == status, response.get_json()
        assert response.mimetype == "application/problem+json"
    assert api.get("risk1", "/api/v1/alerts").get_json()["items"] == []
    assert (
        api.get("risk1", "/api/v1/workflows?definition=alert_remediation").get_json()["items"] == []
    )


def test_notifications_are_listed_per_user_and_marked_read(app, api):
    cid = make_client(app)
    for _ in range(2):
        api.post("risk1", "/api/v1/alerts", json=alert_body(cid))
    drain(app)
    page = api.get("sales1", "/api/v1/notifications").get_json()
    assert page["unread_count"] == 2
    first = page["items"][0]["id"]
    assert api.post("risk2", f"/api/v1/notifications/{first}/read").status_code == 404
    r = api.post("sales1", f"/api/v1/notifications/{first}/read")
    assert r.status_code == 200 and r.get_json()["read_at"]
    unread = api.get("sales1", "/api/v1/notifications?unread=true").get_json()
    assert unread["unread_count"] == 1 and len(unread["items"]) == 1
    assert api.post("sales1", "/api/v1/notifications/read-all").get_json() == {
        "marked": 1,
        "unread_count": 0,
    }
    assert api.get("auditor1", "/api/v1/notifications").get_json()["unread_count"] == 0


def test_closing_a_black_loop_does_not_reinstate_a_blacklisted_client(app, api):
    cid = make_client(app, status="active")
    alert = post_signed(api, alert_body(cid, level="black", category="dishonest_debtor")).get_json()
    with app.app_context():  # meanwhile a dual-approved change request blacklisted the client
        db.session.get(Client, cid).blacklisted = True
        db.session.commit()
    api.act("sales1", alert["id"], "respond", assessment="a", plan="p")
    api.act("sales1", alert["id"], "rectify", evidence="e")
    assert api.act("risk1", alert["id"], "review").status_code == 200
    assert client_status(app, cid) == ("suspended", "active")
