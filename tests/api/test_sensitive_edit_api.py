"""Change requests through the API: 201 with the instance, 403 naming the rule, 409 and
422 problem documents, the masked before/after view and the audit trail."""

from __future__ import annotations

from datetime import datetime, timedelta
from decimal import Decimal

from sqlalchemy import text

from api.extensions import db, runtime_of
from tests.support.app import PASSWORD, drain
from workflow.accounts import users as accounts
from workflow.background import scheduler as scheduling
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.risk.clients.model import Client

NEW_ACCOUNT = "6228480099887766"


def add_client(
    app, owner: str = "sales1", status: str = "active", code: str = "91310000MA1K000001"
) -> int:  # noqa: ANN001
    with app.app_context():
        now = clock.now()
        client = Client(
            name="华东精密制造有限公司",
            credit_code=code,
            legal_representative="张伟",
            credit_limit=Decimal("500000.00"),
            rating="B",
            risk_level="medium",
            bank_account="6222020012345678",
            blacklisted=False,
            status=status,
            owner=owner,
            created_by=owner,
            version=1,
            created_at=now,
            updated_at=now,
            tags=[],
            contracts=[],
            facts={},
        )
        db.session.add(client)
        db.session.commit()
        return client.id


def file(api, client_id: int, changes: dict, who: str = "sales1", reason: str = "new contract"):  # noqa: ANN001, ANN201
    return api.post(
        who,
        f"/api/v1/clients/{client_id}/change-requests",
        json={"changes": changes, "reason": reason},
    )


def test_a_change_request_is_filed_approved_twice_and_applied(app, api):
    client = add_client(app)
    r = file(api, client, {"credit_limit": "800000", "bank_account": NEW_ACCOUNT})
    assert r.status_code == 201, r.get_json()
    case = r.get_json()
    assert (case["definition"], case["state"], case["subject_id"]) == (
        "sensitive_edit",
        "requested",
        client,
    )
    assert case["available_actions"] == ["cancel"]
    assert case["data"]["changes"]["credit_limit"] == {"before": None, "after": None}  # sales
    risk_view = api.get("risk1", f"/api/v1/workflows/{case['id']}").get_json()
    assert risk_view["available_actions"] == ["approve", "reject"]
    assert risk_view["data"]["changes"] == {
        "credit_limit": {"before": 500000.0, "after": 800000.0},
        "bank_account": {"before": "**** **** **** 5678", "after": "**** **** **** 7766"},
    }
    # ...nor in the case's audit trail, where the start record keeps the request's data
    started = api.get("sales1", f"/api/v1/workflows/{case['id']}/audit").get_json()["items"][0]
    assert started["kind"] == "started" and started["actor"] == "sales1"
    assert started["payload"]["data"]["changes"]["credit_limit"] == {"before": None, "after": None}
    assert "500000" not in str(started) and "800000" not in str(started)
    full = api.get("risk1", f"/api/v1/workflows/{case['id']}/audit").get_json()["items"][0]
    assert "credit_limit" in full["payload"]["data"]["changes"]
    r = api.act("risk1", case["id"], "approve", expected_version=1, comment="checked the contract")
    assert r.status_code == 200 and r.get_json()["to_state"] == "first_approved"
    r = api.act("risk1", case["id"], "approve", expected_version=2)
    assert r.status_code == 403 and r.get_json()["rule"] == "not_actor_of"
    r = api.act("legal1", case["id"], "approve", expected_version=2)
    assert r.status_code == 200 and r.get_json()["to_state"] == "applied", r.get_json()
    with app.app_context():
        client_row = db.session.get(Client, client)
        assert (client_row.credit_limit, client_row.bank_account) == (
            Decimal("800000.00"),
            NEW_ACCOUNT,
        )
        raw = db.session.execute(
            text("SELECT bank_account FROM clients WHERE id = :i"), {"i": client}
        ).scalar_one()
        assert NEW_ACCOUNT not in raw
    audit = api.get("auditor1", f"/api/v1/workflows/{case['id']}/audit").get_json()["items"]
    assert [(a["trigger"], a["actor"], a["to_state"]) for a in audit] == [
        (None, "sales1", "requested"),
        ("approve", "risk1", "first_approved"),
        ("approve", "legal1", "applied"),
    ]
    assert audit[-1]["payload"]["diff"]["bank_account"]["after"] == "**** **** **** 7766"
    assert [a["by"] for a in audit[-1]["payload"]["approvals"]] == ["risk1", "legal1"]
    r = api.act("manager1", case["id"], "approve")
    assert r.status_code == 409 and r.get_json()["type"].endswith("illegal-state")


def test_segregation_refusals_are_403_naming_the_rule(app, api):
    with app.app_context():  # an administrator who also holds an approver's role
        accounts.create_user(
            db.session, "admin_risk", PASSWORD, ["admin", "risk_officer"], by=Actor.system("test")
        )
        db.session.commit()
    client = add_client(app)
    case = file(api, client, {"rating": "A"}, who="risk1").get_json()["id"]
    for who, trigger, rule in (
        ("risk1", "approve", "not_initiator"),
        ("risk1", "reject", "not_initiator"),
        ("auditor1", "approve", "role"),
        ("admin_risk", "approve", "no_roles"),
        ("legal1", "cancel", "initiator_only"),
    ):
        r = api.act(who, case, trigger, comment="x")
        body = r.get_json()
        assert (r.status_code, body.get("rule")) == (403, rule), (who, trigger, body)
        assert body["type"].endswith("forbidden") and body["detail"]


def test_bad_change_requests_get_problem_documents(app, api):
    client = add_client(app)
    other = add_client(app, owner="sales2", code="91310000MA1K000002")
    cases = [
        (file(api, client, {}), 422, "validation"),
        (file(api, client, {"nickname": "x"}), 422, "validation"),
        (file(api, client, {"rating": "Z"}), 422, "validation"),
        (
            api.post(
                "sales1",
                f"/api/v1/clients/{client}/change-requests",
                json={"changes": {"rating": "A"}},
            ),
            422,
            "validation",
        ),
        (
            api.post(
                "sales1",
                f"/api/v1/clients/{client}/change-requests",
                json={"changes": {"rating": "A"}, "reason": "x", "extra": 1},
            ),
            422,
            "validation",
        ),
        (file(api, 999999, {"rating": "A"}), 404, "not-found"),
        (file(api, other, {"rating": "A"}), 404, "not-found"),  # another owner's: as if missing
        (file(api, client, {"rating": "A"}, who="auditor1"), 403, "forbidden"),
        (
            api.post(
                None,
                f"/api/v1/clients/{client}/change-requests",
                json={"changes": {"rating": "A"}, "reason": "x"},
            ),
            401,
            "unauthenticated",
        ),
    ]
    for response, status, slug in cases:
        body = response.get_json()
        assert response.status_code == status, (slug, body)
        assert response.mimetype == "application/problem+json" and body["type"].endswith(slug), body
    r = file(api, client, {"industry": "mining"})
    assert r.status_code == 422 and "PATCH" in r.get_json()["errors"]["industry"][0]
    assert file(api, client, {"rating": "A", "blacklisted": True}).status_code == 201
    r = file(api, client, {"rating": "C"}, who="manager1")
    assert r.status_code == 409 and r.get_json()["type"].endswith("duplicate"), r.get_json()


def test_an_expired_request_cannot_be_approved(app, api):
    t0 = datetime(2026, 11, 23, 9, 0)
    clock.freeze(t0)
    case = file(api, add_client(app), {"rating": "A"}).get_json()["id"]
    clock.freeze(t0 + timedelta(hours=72, minutes=1))
    rt = runtime_of(app)
    scheduling.tick(rt.session_factory, rt.catalog.registry, rt.settings)
    drain(app)
    assert api.get("risk1", f"/api/v1/workflows/{case}").get_json()["state"] == "expired"
    r = api.act("risk1", case, "approve")
    assert r.status_code == 409 and r.get_json()["type"].endswith("illegal-state")


def test_the_change_request_route_is_in_the_openapi_document(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    op = spec["paths"]["/api/v1/clients/{client_id}/change-requests"]["post"]
    assert "201" in op["responses"] and "409" in op["responses"]


def test_approvers_read_the_full_values_in_an_audited_read_and_sales_see_them_masked(app, api):
    client = add_client(app)
    case = file(api, client, {"bank_account": NEW_ACCOUNT, "rating": "A"}).get_json()["id"]
    path = f"/api/v1/clients/{client}/change-requests/{case}/values"
    r = api.get("risk1", path)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["changes"] == {
        "bank_account": {"before": "6222020012345678", "after": NEW_ACCOUNT},
        "rating": {"before": "B", "after": "A"},
    }
    assert api.get("sales1", path).get_json()["changes"]["bank_account"] == {
        "before": "**** **** **** 5678",
        "after": "**** **** **** 7766",
    }
    assert api.get("sales2", path).status_code == 404
    assert (
        api.get("risk1", f"/api/v1/clients/{client + 1}/change-requests/{case}/values").status_code
        == 404
    )
    with app.app_context():
        reads = (
            db.session.execute(
                text(
                    "SELECT actor FROM audit_records WHERE stream = :s AND kind = 'client.sensitive_read'"
                ),
                {"s": f"client:{client}"},
            )
            .scalars()
            .all()
        )
    assert reads == ["risk1"]


def test_lifting_a_blacklist_reinstates_the_client_unless_a_black_alert_still_holds_it(app, api):
    """Blacklisting suspends an active client; the change request that lifts the blacklist is
    the way back (no other path sets the status). An open black alert keeps it suspended
    until that loop closes."""

    def both_approve(changes: dict, reason: str) -> None:
        r = file(api, client, changes, who="risk1", reason=reason)
        assert r.status_code == 201, r.get_json()
        assert api.act("risk2", r.get_json()["id"], "approve").status_code == 200
        assert api.act("legal1", r.get_json()["id"], "approve").status_code == 200

    def status() -> tuple:
        with app.app_context():
            c = db.session.get(Client, client)
            return c.blacklisted, c.status, c.status_before_suspension

    client = add_client(app)
    both_approve({"blacklisted": True}, "listed")
    assert status() == (True, "suspended", "active")
    both_approve({"blacklisted": False}, "delisted by the court")
    assert status() == (False, "active", None)
    with app.app_context():
        last = db.session.execute(
            text("SELECT kind FROM audit_records WHERE stream = :s ORDER BY seq DESC LIMIT 1"),
            {"s": f"client:{client}"},
        ).scalar_one()
    assert last == "client.reinstated"

    both_approve({"blacklisted": True}, "listed again")
    alert = api.post(
        "risk1",
        "/api/v1/alerts",
        json={
            "client_id": client,
            "level": "black",
            "category": "other",
            "title": "重大风险",
            "source": "test",
            "external_id": f"black-{client}",
        },
    )
    assert alert.status_code == 201, alert.get_json()
    both_approve({"blacklisted": False}, "delisted again")
    assert status() == (False, "suspended", "active")  # the black loop still holds it
    case = alert.get_json()["id"]
    assert api.act("sales1", case, "respond", assessment="a", plan="p").status_code == 200
    assert api.act("risk1", case, "dismiss", reason="误报").status_code == 200
    assert status() == (False, "active", None)
