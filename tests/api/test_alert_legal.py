"""Legal owns the litigation and dishonest-debtor alerts routed to it: it responds,
rectifies and attaches proof like any owner; on other alerts it reads and never acts."""

from __future__ import annotations

import pytest

from tests.support.alerts import alert_body, make_client
from tests.support.evidence import upload

pytestmark = pytest.mark.usefixtures("webhook_secret")  # alert intake is open


def raised(api, app, category: str) -> dict:
    cid = make_client(app, owner="sales1")
    response = api.post("risk1", "/api/v1/alerts", json=alert_body(cid, category=category))
    assert response.status_code == 201
    return response.get_json()


def test_legal_responds_to_and_rectifies_a_litigation_alert_routed_to_it(app, api):
    case = raised(api, app, "litigation")
    assert "legal1" in case["alert"]["owners"]

    responded = api.act("legal1", case["id"], "respond", assessment="起诉金额重大", plan="应诉")
    assert responded.status_code == 200, responded.get_json()
    assert upload(api, "legal1", case["id"]).status_code == 201
    rectified = api.act("legal1", case["id"], "rectify", evidence="已提交答辩状")
    assert rectified.status_code == 200, rectified.get_json()
    assert rectified.get_json()["instance"]["state"] == "rectified"
    # segregation of duties still holds: someone else reviews what legal rectified
    assert api.act("risk1", case["id"], "review").status_code == 200


def test_legal_reads_but_never_acts_on_an_alert_not_routed_to_it(app, api):
    case = raised(api, app, "payment_overdue")
    assert "legal1" not in case["alert"]["owners"]
    assert api.get("legal1", f"/api/v1/workflows/{case['id']}").status_code == 200

    refused = api.act("legal1", case["id"], "respond", assessment="a", plan="p")
    assert refused.status_code == 403
    assert refused.get_json()["rule"] == "assignee_only"
    assert api.act("sales1", case["id"], "respond", assessment="a", plan="p").status_code == 200
    assert upload(api, "legal1", case["id"]).status_code == 403
