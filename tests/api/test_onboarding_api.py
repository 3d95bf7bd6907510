"""Client onboarding (客户准入) through the API: every path of client_onboarding.yaml."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from flask import Flask
from sqlalchemy import select

from api.extensions import db, runtime_of
from tests.support.app import Api, drain
from tests.support.onboarding import (
    A_FACTS,
    B_FACTS,
    S_FACTS,
    admit,
    client_row,
    code,
    new_client,
)
from workflow.background import scheduler as scheduling
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, Notification
from workflow.risk.clients.model import client_stream
from workflow.risk.screening.watchlist import import_watchlist


def test_an_s_client_is_screened_then_approved_by_a_risk_officer_from_the_inbox(
    app: Flask, api: Api
) -> None:
    client_id = new_client(api, 1, **S_FACTS)
    case = admit(app, api, client_id)
    assert case["state"] == "risk_review"
    assert case["data"]["screening"]["rating"] == "S"
    assert case["data"]["screening"]["fired_rules"][0]["id"] == "central_soe_whitelist"
    assert len(case["data"]["screening"]["contributions"]) == 5
    sales_view = api.get("sales1", f"/api/v1/workflows/{case['id']}").get_json()
    assert sales_view["data"]["screening"] == {"rating": "S", "risk_level": "low"}
    inbox = api.get("risk1", "/api/v1/tasks").get_json()["items"]
    assert [t["id"] for t in inbox] == [case["id"]]
    assert api.act("sales1", case["id"], "approve").status_code == 403
    r = api.act("risk1", case["id"], "approve", comment="white list")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["to_state"] == "approved"
    client = client_row(app, client_id)
    assert (client.status, client.rating, client.risk_level) == ("active", "S", "low")
    assert int(client.credit_limit) == 50_000_000  # 0.5 × 500 M capped at 50 M
    approved = api.get("risk1", f"/api/v1/workflows/{case['id']}").get_json()
    assert approved["data"]["periodic_review_due"] is not None  # the next periodic review is armed
    with app.app_context():
        kinds = (
            db.session.execute(
                select(AuditRecord.kind)
                .where(AuditRecord.stream == client_stream(client_id))
                .order_by(AuditRecord.seq)
            )
            .scalars()
            .all()
        )
    assert kinds[:4] == [
        "client.created",
        "client.status_changed",
        "client.screened",
        "client.admitted",
    ]


@pytest.mark.parametrize("facts, rating", [(A_FACTS, "A"), (B_FACTS, "B")])
def test_a_and_b_clients_go_to_risk_review_and_can_be_rejected(
    app: Flask, api: Api, facts: dict, rating: str
) -> None:
    client_id = new_client(api, 2, **facts)
    case = admit(app, api, client_id)
    assert (case["state"], case["data"]["screening"]["rating"]) == ("risk_review", rating)
    assert case["data"]["screening"]["decided_by"] == "scorecard"
    r = api.act("risk1", case["id"], "reject")
    assert r.status_code == 422  # a comment is required
    assert api.act("risk1", case["id"], "reject", comment="not now").status_code == 200
    assert client_row(app, client_id).status == "rejected"


def test_return_for_information_and_resubmission_screens_again(app: Flask, api: Api) -> None:
    client_id = new_client(api, 3, **A_FACTS)
    case = admit(app, api, client_id)
    r = api.act("risk1", case["id"], "return_for_info", comment="need the 2025 accounts")
    assert r.get_json()["to_state"] == "returned"
    assert api.act("sales2", case["id"], "submit").status_code in (403, 404)
    r = api.act("sales1", case["id"], "submit", response="attached")
    assert r.status_code == 200 and r.get_json()["to_state"] == "submitted"
    drain(app)
    again = api.get("risk1", f"/api/v1/workflows/{case['id']}").get_json()
    assert again["state"] == "risk_review"
    assert again["data"]["returned_for_info"]["comment"] == "need the 2025 accounts"


def test_a_blacklisted_client_is_rejected_by_the_system_with_reasons(app: Flask, api: Api) -> None:
    with app.app_context():
        import_watchlist(
            db.session,
            [{"credit_code": code(4), "name": "x", "list": "blacklist", "reason": "fraud"}],
            Actor.system("test"),
            source="test",
        )
        db.session.commit()
    client_id = new_client(api, 4, **S_FACTS)  # the blacklist beats the SOE white list
    case = admit(app, api, client_id)
    assert case["state"] == "rejected"
    assert any("blacklist" in reason for reason in case["data"]["rejection_reasons"])
    client = client_row(app, client_id)
    assert (client.status, client.rating, client.blacklisted) == ("rejected", "D", True)
    assert client.screening["checks"][0]["hits"][0]["reason"] == "fraud"


def test_a_dishonest_debtor_is_rated_d(app: Flask, api: Api) -> None:
    with app.app_context():
        import_watchlist(
            db.session,
            [
                {
                    "credit_code": code(5),
                    "name": "x",
                    "list": "dishonest_debtor",
                    "reason": "judgement unpaid",
                }
            ],
            Actor.system("test"),
            source="t",
        )
        db.session.commit()
    case = admit(app, api, new_client(api, 5, **A_FACTS))
    assert case["state"] == "rejected"
    assert case["data"]["screening"]["fired_rules"][0]["id"] == "dishonest_debtor"


def test_withdraw_before_a_decision_and_only_one_admission_at_a_time(app: Flask, api: Api) -> None:
    client_id = new_client(api, 6, **A_FACTS)
    first = api.post("sales1", f"/api/v1/clients/{client_id}/admission", json={"submit": False})
    assert first.status_code == 201 and first.get_json()["state"] == "draft"
    assert api.post("sales1", f"/api/v1/clients/{client_id}/admission", json={}).status_code == 409
    assert api.post("sales2", f"/api/v1/clients/{client_id}/admission", json={}).status_code == 404
    assert api.act("sales1", first.get_json()["id"], "submit").status_code == 200
    drain(app)
    r = api.act("sales1", first.get_json()["id"], "withdraw", comment="client changed its mind")
    assert r.status_code == 200 and r.get_json()["to_state"] == "withdrawn"
    assert client_row(app, client_id).status == "prospect"
    assert api.post("sales1", f"/api/v1/clients/{client_id}/admission", json={}).status_code == 201


def test_review_sla_breach_escalates_to_managers(app: Flask, api: Api) -> None:
    clock.freeze(datetime(2026, 3, 2, 9, 0))
    case = admit(app, api, new_client(api, 7, **A_FACTS))
    assert case["state"] == "risk_review"
    clock.advance(timedelta(hours=47))
    rt = runtime_of(app)
    scheduling.tick(rt.session_factory, rt.catalog.registry, rt.settings)
    drain(app)
    api.tokens.clear()  # bearer tokens expire after hours of frozen-clock time
    assert api.get("risk1", f"/api/v1/workflows/{case['id']}").get_json()["breached"] is False
    clock.advance(timedelta(hours=2))
    scheduling.tick(rt.session_factory, rt.catalog.registry, rt.settings)
    drain(app)
    api.tokens.clear()
    after = api.get("risk1", f"/api/v1/workflows/{case['id']}").get_json()
    assert after["breached"] is True and after["state"] == "risk_review"
    with app.app_context():
        notified = (
            db.session.execute(
                select(Notification.username).where(
                    Notification.instance_id == case["id"], Notification.event == "sla_breached"
                )
            )
            .scalars()
            .all()
        )
    assert notified == ["manager1"]


def test_a_re_run_of_screening_does_not_duplicate_audit_records(app: Flask, api: Api) -> None:
    from workflow.background import runner as tasks
    from workflow.records.models import OutboxMessage

    client_id = new_client(api, 8, **A_FACTS)
    case = admit(app, api, client_id)
    streams = [f"workflow:{case['id']}", client_stream(client_id)]

    def audit_count() -> int:
        with app.app_context():
            count = len(
                db.session.execute(select(AuditRecord.id).where(AuditRecord.stream.in_(streams)))
                .scalars()
                .all()
            )
            db.session.remove()
            return count

    before = audit_count()
    with app.app_context():
        screen_ids = (
            db.session.execute(
                select(OutboxMessage.id).where(
                    OutboxMessage.instance_id == case["id"], OutboxMessage.task == "screen_client"
                )
            )
            .scalars()
            .all()
        )
        db.session.remove()
    rt = runtime_of(app)
    # A redelivered screening message (the broker re-sent it) has no second effect.
    assert [tasks.run_message(rt.session_factory, rt.catalog.registry, i) for i in screen_ids] == [
        "skipped"
    ]
    assert audit_count() == before


def test_the_demo_clients_take_each_onboarding_path(app: Flask, api: Api) -> None:
    from workflow.risk.clients.demo import add_demo_clients

    with app.app_context():
        add_demo_clients(db.session)
        db.session.commit()
    drain(app)
    states = {
        c["data"]["client_name"]: (c["state"], c["data"].get("screening", {}).get("rating"))
        for c in api.get("risk1", "/api/v1/workflows?definition=client_onboarding").get_json()[
            "items"
        ]
    }
    assert states["中国示例能源集团有限公司"] == ("risk_review", "S")
    assert states["上海示例精密制造有限公司"] == ("risk_review", "A")
    # C waits in due diligence; without that feature installed its screening is an incident.
    assert states["成都示例建材有限公司"] in (("due_diligence", "C"), ("screening", None))
    assert states["广州示例贸易有限公司"] == ("rejected", "D")
    prospects = api.get("sales2", "/api/v1/clients?status=prospect").get_json()["items"]
    assert [c["name"] for c in prospects] == ["杭州示例电子商务有限公司"]


def test_an_admission_decided_during_a_black_alert_leaves_the_client_suspended_until_the_loop_closes(
    app: Flask, api: Api
) -> None:
    """A black alert suspends the client until the loop closes; approving (or
    rejecting) the admission meanwhile changes the status it returns to, not the suspension."""
    approved, rejected = new_client(api, 901, **A_FACTS), new_client(api, 902, **A_FACTS)
    cases = {cid: admit(app, api, cid) for cid in (approved, rejected)}
    alerts = {}
    for cid in (approved, rejected):
        r = api.post(
            "risk1",
            "/api/v1/alerts",
            json={
                "client_id": cid,
                "level": "black",
                "category": "other",
                "title": "重大风险",
                "source": "test",
                "external_id": f"black-{cid}",
            },
        )
        assert r.status_code == 201, r.get_json()
        alerts[cid] = r.get_json()["id"]
        assert client_row(app, cid).status == "suspended"

    assert api.act("risk2", cases[approved]["id"], "approve", comment="ok").status_code == 200
    assert api.act("risk2", cases[rejected]["id"], "reject", comment="no").status_code == 200
    row = client_row(app, approved)
    assert (row.status, row.status_before_suspension) == ("suspended", "active")
    assert row.credit_limit is not None and row.credit_limit > 0
    row = client_row(app, rejected)
    assert (row.status, row.status_before_suspension) == ("suspended", "rejected")

    for cid, status in ((approved, "active"), (rejected, "rejected")):
        assert (
            api.act("sales1", alerts[cid], "respond", assessment="a", plan="p").status_code == 200
        )
        assert api.act("risk1", alerts[cid], "dismiss", reason="误报").status_code == 200
        row = client_row(app, cid)
        assert (row.status, row.status_before_suspension) == (status, None)
