"""Name screening at admission: a possible watch-list name match sends the case
to a human with the hit and its path, whatever the rating; a reviewer who is not the
submitter confirms it (blacklisted, rejected) or clears it as a false positive, which is
remembered for that entry until the entry changes."""

from __future__ import annotations

from flask import Flask

from api.extensions import db
from tests.support.app import PASSWORD, Api
from tests.support.onboarding import A_FACTS, C_FACTS, S_FACTS, admit, client_row, code
from workflow.accounts import users as accounts
from workflow.records.identity import Actor
from workflow.risk.screening.watchlist import WatchlistClearance, import_watchlist

LISTED = "深圳华强科技有限公司"


def listed(app: Flask, *entries: dict) -> None:
    with app.app_context():
        import_watchlist(db.session, list(entries), Actor.system("test"), source="test")
        db.session.commit()


def entry(name: str = LISTED, reason: str = "fraud", **extra: object) -> dict:
    return {"credit_code": "", "name": name, "list": "blacklist", "reason": reason, **extra}


def named_client(api: Api, n: int, name: str, **fields: object) -> int:
    r = api.post("sales1", "/api/v1/clients", json={"name": name, "credit_code": code(n), **fields})
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def test_a_traditional_script_client_reaches_a_human_with_the_hit_and_its_path(
    app: Flask, api: Api
) -> None:
    listed(app, entry())
    case = admit(app, api, named_client(api, 701, "深圳市華強科技有限公司", **S_FACTS))

    assert case["state"] == "name_review"  # an S rating would otherwise pass to risk review
    [match] = case["data"]["possible_matches"]
    assert (match["list"], match["name"], match["match"]) == ("blacklist", LISTED, "traditional")
    assert 85 <= match["score"] <= 100
    sales_view = api.get("sales1", f"/api/v1/workflows/{case['id']}").get_json()
    assert "possible_matches" not in sales_view["data"]


def test_an_unrelated_company_of_the_same_city_is_not_raised(app: Flask, api: Api) -> None:
    listed(app, entry())
    case = admit(app, api, named_client(api, 702, "深圳华为技术有限公司", **A_FACTS))

    assert case["state"] == "risk_review"
    assert case["data"]["possible_matches"] == []


def test_confirming_blacklists_and_rejects_and_the_submitter_may_not_decide(
    app: Flask, api: Api
) -> None:
    with app.app_context():  # a sales user who is also a risk officer
        accounts.create_user(
            db.session, "sales_risk", PASSWORD, ["sales", "risk_officer"], by=Actor.system("test")
        )
        db.session.commit()
    listed(app, entry(name="Shenzhen Huaqiang Technology Co., Ltd."))
    r = api.post(
        "sales_risk",
        "/api/v1/clients",
        json={"name": LISTED, "credit_code": code(703), "owner": "sales_risk", **A_FACTS},
    )
    assert r.status_code == 201, r.get_json()
    case = admit(app, api, r.get_json()["id"], owner="sales_risk")
    assert (case["state"], case["data"]["possible_matches"][0]["match"]) == (
        "name_review",
        "pinyin",
    )

    refused = api.act("sales_risk", case["id"], "confirm_match", comment="it is them")
    assert refused.status_code == 403
    assert api.act("sales1", case["id"], "clear_matches", comment="no").status_code in (403, 404)
    assert api.act("risk1", case["id"], "confirm_match").status_code == 422  # a reason is required
    done = api.act("risk1", case["id"], "confirm_match", comment="same company, re-registered")

    assert done.status_code == 200, done.get_json()
    assert done.get_json()["to_state"] == "rejected"
    client = client_row(app, case["subject_id"])
    assert (client.status, client.blacklisted) == ("rejected", True)


def test_a_cleared_match_is_not_raised_again_until_the_entry_changes(app: Flask, api: Api) -> None:
    listed(app, entry())
    client_id = named_client(api, 704, "深圳市華強科技有限公司", **A_FACTS)
    case = admit(app, api, client_id)
    cleared = api.act("risk1", case["id"], "clear_matches", comment="another 华强, different boss")
    assert cleared.get_json()["to_state"] == "risk_review", cleared.get_json()
    with app.app_context():
        [row] = db.session.query(WatchlistClearance).all()
        assert (row.client_id, row.cleared_by, row.reason) == (
            client_id,
            "risk1",
            "another 华强, different boss",
        )
    api.act("risk1", case["id"], "reject", comment="not now")

    again = admit(app, api, client_id)
    assert again["state"] == "risk_review"  # the same pair is not raised twice

    api.act("risk1", again["id"], "reject", comment="not now")
    listed(app, entry(reason="fraud; court order 2026-11"))  # the entry changed
    third = admit(app, api, client_id)
    assert third["state"] == "name_review"


def test_a_cleared_c_client_goes_on_to_due_diligence(app: Flask, api: Api) -> None:
    listed(app, entry(aliases=["华强电子"]))
    case = admit(app, api, named_client(api, 705, "華強電子有限公司", **C_FACTS))
    assert case["data"]["possible_matches"][0]["match"] == "alias"

    r = api.act("risk2", case["id"], "clear_matches", comment="different company")

    assert r.get_json()["to_state"] == "due_diligence", r.get_json()


def test_a_listed_id_number_rejects_a_natural_person_by_the_system(app: Flask, api: Api) -> None:
    listed(app, entry(name="王小明", id_number="110101199003070011"))
    client_id = named_client(
        api, 706, "王晓明", ownership_type="individual", id_number="110101199003070011"
    )
    case = admit(app, api, client_id)

    assert case["state"] == "rejected"
    assert case["data"]["screening"]["checks"][0]["hits"][0]["match"] == "id_number"
