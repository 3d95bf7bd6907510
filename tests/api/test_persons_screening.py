"""Natural persons through admission: screened on the watch lists by identity number and
name (the company data provider is not asked), rated by a scorecard without registered
capital or business age, and reviewed with the personal due-diligence checklist
(identity, related parties, litigation)."""

from __future__ import annotations

from flask import Flask

from api.extensions import db
from tests.support.app import Api
from tests.support.onboarding import admit
from tests.support.persons import id_number, person_body
from workflow.records.identity import Actor
from workflow.risk.screening.watchlist import import_watchlist

PERSONAL_CHECKLIST = {
    key: {"finding": "核实无误", "risk": "medium"}
    for key in ("identity", "related_parties", "litigation")
}


def listed(app: Flask, **entry: object) -> None:
    with app.app_context():
        import_watchlist(
            db.session,
            [{"credit_code": "", "list": "blacklist", "reason": "fraud", **entry}],
            Actor.system("test"),
            source="test",
        )
        db.session.commit()


def person(api: Api, n: int, **extra: object) -> int:
    r = api.post("sales1", "/api/v1/clients", json=person_body(n, **extra))
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_a_person_listed_by_id_number_is_rejected_by_the_system(app: Flask, api: Api) -> None:
    listed(app, name="李某某", id_number=id_number(501))
    case = admit(app, api, person(api, 501, name="王大明"))
    assert case["state"] == "rejected"
    [hit] = case["data"]["screening"]["checks"][0]["hits"]
    assert hit["match"] == "id_number"


def test_a_person_whose_name_resembles_a_listed_one_goes_to_a_human(app: Flask, api: Api) -> None:
    listed(app, name="王晓明")
    case = admit(app, api, person(api, 502, name="王曉明"))
    assert case["state"] == "name_review"
    [match] = case["data"]["possible_matches"]
    assert match["name"] == "王晓明" and match["match"] == "traditional"


def test_a_person_is_rated_without_registered_capital(app: Flask, api: Api) -> None:
    case = admit(app, api, person(api, 503))
    screening = case["data"]["screening"]
    indicators = [c["indicator"] for c in screening["contributions"]]
    assert "registered_capital" not in indicators and "years_in_business" not in indicators
    assert screening["rating"] == "A" and case["state"] == "risk_review"
    assert screening["credit_limit"] == 300_000


def test_a_risky_person_is_reviewed_with_the_personal_checklist(app: Flask, api: Api) -> None:
    client_id = person(api, 504, facts={"litigation_count": 3, "payment_history": "overdue"})
    case = admit(app, api, client_id)
    assert (case["state"], case["data"]["screening"]["rating"]) == ("due_diligence", "C")
    child_id = case["data"]["due_diligence_id"]
    assert api.act("risk1", child_id, "start").status_code == 200
    company_checklist = {
        key: {"finding": "fine", "risk": "low"}
        for key in ("basic_info", "financials", "reputation", "legal_records", "compliance")
    }
    r = api.act("risk1", child_id, "submit_for_review", checklist=company_checklist)
    assert r.status_code == 422
    assert set(r.get_json()["errors"]["checklist"]) >= {"identity", "related_parties", "litigation"}
    r = api.act("risk1", child_id, "submit_for_review", checklist=PERSONAL_CHECKLIST)
    assert r.status_code == 200, r.get_json()
    child = api.get("risk1", f"/api/v1/workflows/{child_id}").get_json()
    assert set(child["data"]["checklist"]) == {"identity", "related_parties", "litigation"}
