"""Onboarding for tests: scorecard facts for each rating path, clients created and admitted
through the API."""

from __future__ import annotations

from datetime import date

from flask import Flask

from api.extensions import db
from tests.support.app import Api, drain
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.model import Client

# Scorecard inputs for each rating path of the default rule set.
S_FACTS = {
    "ownership_type": "central_soe",
    "state_ownership_pct": 90,
    "registered_capital": 500_000_000,
}
A_FACTS = {
    "ownership_type": "private",
    "registered_capital": 200_000_000,
    "established_on": "2001-01-01",
}
B_FACTS = {
    "ownership_type": "private",
    "registered_capital": 20_000_000,
    "established_on": date.today().replace(year=date.today().year - 4).isoformat(),
    "facts": {"litigation_count": 1, "payment_history": "minor_delays"},
}
C_FACTS = {
    "ownership_type": "private",
    "registered_capital": 2_000_000,
    "established_on": date.today().replace(year=date.today().year - 2).isoformat(),
    "facts": {"litigation_count": 3, "negative_news_count": 1, "payment_history": "minor_delays"},
}


def code(n: int) -> str:
    return make_credit_code(f"9144030{n:010d}")


def new_client(api: Api, n: int, owner: str = "sales1", **fields: object) -> int:
    r = api.post(
        owner,
        "/api/v1/clients",
        json={"name": f"深圳示例科技有限公司 {n}", "credit_code": code(n), **fields},
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def admit(app: Flask, api: Api, client_id: int, owner: str = "sales1") -> dict:
    r = api.post(owner, f"/api/v1/clients/{client_id}/admission", json={})
    assert r.status_code == 201, r.get_json()
    assert r.get_json()["state"] == "submitted"
    drain(app)
    return api.get("risk1", f"/api/v1/workflows/{r.get_json()['id']}").get_json()


def client_row(app: Flask, client_id: int) -> Client:
    with app.app_context():
        client = db.session.get(Client, client_id)
        assert client is not None
        db.session.expunge(client)
        return client


DD_CHECKLIST = {
    key: {"finding": "fine", "risk": "medium"}
    for key in ("basic_info", "financials", "reputation", "legal_records", "compliance")
}


def through_due_diligence(app: Flask, api: Api, n: int, decision: str, **body: object) -> dict:
    """A C-rated client admitted, its due diligence reviewed by risk1 and decided by risk2;
    the admission case as it is then."""
    case = admit(app, api, new_client(api, n, **C_FACTS))
    assert (case["state"], case["data"]["screening"]["rating"]) == ("due_diligence", "C")
    child_id = case["data"]["due_diligence_id"]
    child = api.get("risk1", f"/api/v1/workflows/{child_id}").get_json()
    assert (child["definition"], child["parent_id"], child["subject_id"]) == (
        "due_diligence",
        case["id"],
        case["subject_id"],
    )
    assert api.act("risk1", child_id, "start").status_code == 200
    assert (
        api.act("risk1", child_id, "submit_for_review", checklist=DD_CHECKLIST).status_code == 200
    )
    r = api.act("risk2", child_id, decision, **body)
    assert r.status_code == 200, r.get_json()
    return api.get("risk1", f"/api/v1/workflows/{case['id']}").get_json()
