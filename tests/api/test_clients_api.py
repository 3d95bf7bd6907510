"""The client archive API: create, list with filters and cursors, read masked by role, edit."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from api.extensions import db
from tests.support.app import Api
from workflow.records.models import AuditRecord
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.model import Client, client_stream


def code(n: int) -> str:
    return make_credit_code(f"9135010{n:010d}")


def body(n: int = 1, **extra: object) -> dict:
    return {
        "name": f"示例贸易有限公司 {n}",
        "credit_code": code(n),
        "registered_capital": 20_000_000,
        "ownership_type": "private",
        "contacts": [{"name": "李四", "phone": "13812341234", "email": "lisi@example.com"}],
        "bank_account": "6222020012345678",
        **extra,
    }


def test_sales_create_a_client_and_see_it_masked(api: Api) -> None:
    r = api.post("sales1", "/api/v1/clients", json=body())
    assert r.status_code == 201, r.get_json()
    created = r.get_json()
    assert created["owner"] == "sales1" and created["status"] == "prospect"
    assert created["created_by"] == "sales1"  # who entered it is not a secret
    # the owner sees the contacts they collected in full (they must call the client)
    assert created["contacts"][0]["phone"] == "13812341234"
    assert created["bank_account"] == "**** **** **** 5678"
    assert created["registered_capital"] is None
    full = api.get("risk1", f"/api/v1/clients/{created['id']}").get_json()
    assert full["contacts"][0]["phone"] == "13812341234"
    assert full["registered_capital"] == 20_000_000


def test_bad_fields_are_422_per_field_and_duplicates_409(api: Api) -> None:
    wrong = code(2)[:-1] + ("0" if code(2)[-1] != "0" else "1")
    r = api.post(
        "sales1",
        "/api/v1/clients",
        json=body(
            2, credit_code=wrong, registered_capital=-1, state_ownership_pct=101, surprise=True
        ),
    )
    assert r.status_code == 422
    assert {"credit_code", "registered_capital", "state_ownership_pct", "surprise"} <= set(
        r.get_json()["errors"]
    )
    assert api.post("sales1", "/api/v1/clients", json=body(3)).status_code == 201
    r = api.post("sales2", "/api/v1/clients", json=body(3, name="copy"))
    assert r.status_code == 409
    assert r.get_json()["type"].endswith("/duplicate")


def test_sales_may_not_read_or_edit_someone_elses_client(api: Api) -> None:
    client_id = api.post("sales1", "/api/v1/clients", json=body(4)).get_json()["id"]
    # another owner's client is not found, as another owner's case is (a 403 would tell it exists)
    assert api.get("sales2", f"/api/v1/clients/{client_id}").status_code == 404
    assert (
        api.patch("sales2", f"/api/v1/clients/{client_id}", json={"industry": "x"}).status_code
        == 404
    )
    assert (
        api.patch("auditor1", f"/api/v1/clients/{client_id}", json={"industry": "x"}).status_code
        == 403
    )
    r = api.patch(
        "sales1", f"/api/v1/clients/{client_id}", json={"industry": "retail", "expected_version": 1}
    )
    assert r.status_code == 200 and r.get_json()["version"] == 2
    r = api.patch(
        "sales1", f"/api/v1/clients/{client_id}", json={"industry": "food", "expected_version": 1}
    )
    assert r.status_code == 409


def test_a_sensitive_field_in_a_patch_points_to_change_requests(api: Api) -> None:
    client_id = api.post("sales1", "/api/v1/clients", json=body(5)).get_json()["id"]
    r = api.patch("risk1", f"/api/v1/clients/{client_id}", json={"credit_limit": 1000})
    assert r.status_code == 409
    assert f"/api/v1/clients/{client_id}/change-requests" in r.get_json()["detail"]


def test_the_credit_code_is_corrected_only_before_admission(app: Flask, api: Api) -> None:
    client_id = api.post("sales1", "/api/v1/clients", json=body(6)).get_json()["id"]
    r = api.patch("sales1", f"/api/v1/clients/{client_id}", json={"credit_code": code(7)})
    assert r.status_code == 200 and r.get_json()["credit_code"] == code(7), r.get_json()
    with app.app_context():
        db.session.get(Client, client_id).status = "active"
        db.session.commit()
    r = api.patch("risk1", f"/api/v1/clients/{client_id}", json={"credit_code": code(8)})
    assert r.status_code == 409 and "offboard" in r.get_json()["detail"], r.get_json()
    # the same code again is no change, and other fields stay editable
    r = api.patch(
        "sales1",
        f"/api/v1/clients/{client_id}",
        json={"credit_code": code(7), "industry": "retail"},
    )
    assert r.status_code == 200 and r.get_json()["credit_code"] == code(7)


def test_list_filters_search_and_pages(api: Api) -> None:
    ids = [
        api.post("sales1", "/api/v1/clients", json=body(10 + n, name=f"Alpha {n}")).get_json()["id"]
        for n in range(3)
    ]
    api.post("sales2", "/api/v1/clients", json=body(20, name="Beta"))
    mine = api.get("sales1", "/api/v1/clients").get_json()["items"]
    assert {c["id"] for c in mine} == set(ids)  # sales see their own
    page = api.get("risk1", "/api/v1/clients?limit=2&q=alpha").get_json()
    assert [c["id"] for c in page["items"]] == [ids[2], ids[1]]
    rest = api.get(
        "risk1", f"/api/v1/clients?limit=2&q=alpha&cursor={page['next_cursor']}"
    ).get_json()
    assert [c["id"] for c in rest["items"]] == [ids[0]] and rest["next_cursor"] is None
    by_code = api.get("risk1", f"/api/v1/clients?q={code(20)[:16].lower()}").get_json()["items"]
    assert {c["credit_code"] for c in by_code} == {code(20)}
    assert (
        api.get("risk1", "/api/v1/clients?owner=sales2&status=prospect").get_json()["items"][0][
            "name"
        ]
        == "Beta"
    )
    assert api.get("risk1", "/api/v1/clients?rating=Z").status_code == 422


def test_unmasked_reads_are_recorded_but_masked_ones_are_not(app: Flask, api: Api) -> None:
    client_id = api.post("sales1", "/api/v1/clients", json=body(30)).get_json()["id"]
    api.get("sales1", f"/api/v1/clients/{client_id}")
    api.get("legal1", f"/api/v1/clients/{client_id}")
    with app.app_context():
        records = (
            db.session.execute(
                select(AuditRecord)
                .where(AuditRecord.stream == client_stream(client_id))
                .order_by(AuditRecord.seq)
            )
            .scalars()
            .all()
        )
        assert [(r.kind, r.actor) for r in records] == [
            ("client.created", "sales1"),
            ("client.sensitive_read", "legal1"),
        ]
