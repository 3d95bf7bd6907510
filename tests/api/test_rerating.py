"""Re-rating on every fact change: worse applies at once (audited, notified),
better is proposed through the dual approval, screened inputs are not PATCHed."""

from __future__ import annotations

from datetime import datetime

import pytest
from flask import Flask
from sqlalchemy import select

from api.extensions import db
from tests.support.app import Api, drain
from tests.support.events import (
    admitted_client,
    alerts_of,
    event,
    post_event,
    ratings_of,
)
from tests.support.onboarding import A_FACTS, B_FACTS, admit, client_row, new_client
from workflow.platform import clock
from workflow.records.models import AuditRecord, Notification, WorkflowInstance
from workflow.risk.clients.model import client_stream

pytestmark = pytest.mark.usefixtures("webhook_secret")


def test_a_worse_rating_applies_at_once_audited_notified_and_in_the_history(
    app: Flask, api: Api
) -> None:
    cid = admitted_client(app, api, 21, **A_FACTS)
    before = client_row(app, cid)
    assert (before.rating, before.risk_level, int(before.credit_limit)) == ("A", "low", 50_000_000)
    clock.freeze(datetime(2026, 11, 20, 8, 0))
    posted = post_event(
        app, api, cid, event("payment_overdue", "货款违约 90 天", data={"severity": "default"})
    )
    client = client_row(app, cid)
    # payment history "default" scores 0 of 25 points: 100 → 75, band B, limit 20 % of 200 M
    assert (client.rating, float(client.risk_score), client.risk_level) == ("B", 75.0, "medium")
    assert int(client.credit_limit) == 40_000_000
    assert client.screening["rating"] == "B" and client.screening["credit_limit"] == 40_000_000
    history = api.get("risk1", f"/api/v1/clients/{cid}/ratings").get_json()["items"]
    assert [(r["trigger"], r["outcome"], r["rating"]) for r in history] == [
        (f"event:{posted['id']}", "applied", "B"),
        ("screening", "applied", "A"),
    ]
    latest = history[0]
    assert (latest["risk_score"], latest["risk_level"], latest["credit_limit"]) == (
        75.0,
        "medium",
        40_000_000.0,
    )
    assert latest["previous"]["rating"] == "A"
    assert any(r["kind"] == "scorecard" for r in latest["reasons"])
    # a fall of 25 points within 30 days: the score-drop rule raises a red alert, once
    assert [a[:2] for a in alerts_of(app, cid)] == [("red", "other")]
    post_event(app, api, cid, event("business_change", "经营范围变更"))
    assert len(alerts_of(app, cid)) == 1
    with app.app_context():
        kinds = (
            db.session.execute(
                select(AuditRecord.kind).where(AuditRecord.stream == client_stream(cid))
            )
            .scalars()
            .all()
        )
        notified = (
            db.session.execute(
                select(Notification.username).where(Notification.code == "client.rerated")
            )
            .scalars()
            .all()
        )
    assert "client.rerated" in kinds
    assert {"sales1", "risk1", "risk2"} <= set(notified)
    assert api.get("sales1", f"/api/v1/clients/{cid}/ratings").status_code == 403


def _approve(api: Api, case_id: int, *users: str) -> None:
    for user in users:
        r = api.act(user, case_id, "approve", comment="ok")
        assert r.status_code == 200, r.get_json()


def test_a_better_rating_is_proposed_and_applies_only_after_two_people_approve(
    app: Flask, api: Api
) -> None:
    cid = admitted_client(app, api, 22, **B_FACTS)
    assert client_row(app, cid).rating == "B"
    # the screened facts change only through a change request …
    r = api.post(
        "sales1",
        f"/api/v1/clients/{cid}/change-requests",
        json={
            "changes": {"facts": {"litigation_count": 0, "payment_history": "good"}},
            "reason": "the lawsuit was withdrawn and the arrears paid",
        },
    )
    assert r.status_code == 201, r.get_json()
    _approve(api, r.get_json()["id"], "risk1", "legal1")
    drain(app)
    # … whose approval re-rates: better, so proposed, not applied
    client = client_row(app, cid)
    assert client.rating == "B" and client.facts["litigation_count"] == 0
    proposed = ratings_of(app, cid)[-1]
    assert (proposed.outcome, proposed.rating, proposed.risk_level) == ("proposed", "A", "low")
    assert proposed.trigger == f"change_request:{r.get_json()['id']}"
    with app.app_context():
        proposal = db.session.get(WorkflowInstance, proposed.change_request_id)
        assert proposal is not None
        assert (proposal.definition, proposal.created_by) == ("sensitive_edit", "system:rerating")
        assert set(proposal.data["changes"]) == {"rating", "risk_level", "credit_limit"}
    # segregation of duties: one person cannot give both approvals
    assert api.act("risk1", proposed.change_request_id, "approve").status_code == 200
    assert api.act("risk1", proposed.change_request_id, "approve").status_code == 403
    assert client_row(app, cid).rating == "B"
    _approve(api, proposed.change_request_id, "manager1")
    client = client_row(app, cid)
    assert (client.rating, client.risk_level, int(client.credit_limit)) == ("A", "low", 6_000_000)
    assert float(client.risk_score) == proposed.risk_score
    assert client.screening["rating"] == "A" and client.screening["credit_limit"] == 6_000_000
    applied = ratings_of(app, cid)[-1]
    assert (applied.outcome, applied.rating, applied.change_request_id) == (
        "applied",
        "A",
        proposed.change_request_id,
    )
    assert float(applied.credit_limit) == float(client.credit_limit)


def test_screened_inputs_cannot_be_patched_after_the_first_screening(app: Flask, api: Api) -> None:
    cid = new_client(api, 23, **B_FACTS)
    path = f"/api/v1/clients/{cid}"
    # before screening sales may still correct them
    r = api.patch("sales1", path, json={"facts": {"litigation_count": 2}})
    assert r.status_code == 200, r.get_json()
    admit(app, api, cid)
    for user, change in [
        ("sales1", {"facts": {"litigation_count": 0}}),
        ("sales1", {"ownership_type": "central_soe"}),
        ("sales1", {"registered_capital": 900_000_000}),
        ("risk1", {"established_on": "1990-01-01"}),
    ]:
        r = api.patch(user, path, json=change)
        assert r.status_code == 409, (change, r.get_json())
        assert f"/api/v1/clients/{cid}/change-requests" in r.get_json()["detail"]
        assert set(r.get_json()["fields"]) == set(change) - {"region"}
    # sending the values it has is no change; other fields stay editable
    same = api.patch("sales1", path, json={"facts": {"litigation_count": 2}, "region": "深圳"})
    assert same.status_code == 200, same.get_json()


def test_before_admission_a_missing_input_may_be_filled_in_but_a_screened_one_not(
    app: Flask, api: Api
) -> None:
    """Answering a return for information: the risk officer asks for the founding date the
    screening lacked; sales fills it in, while the values that were screened stay."""
    facts = {k: v for k, v in B_FACTS.items() if k != "established_on"}
    cid = new_client(api, 24, **facts)
    admit(app, api, cid)
    path = f"/api/v1/clients/{cid}"
    assert client_row(app, cid).status == "pending_admission"
    filled = api.patch("sales1", path, json={"established_on": "2012-03-15"})
    assert filled.status_code == 200, filled.get_json()
    # now screened-or-filled, it is not changed again, nor is any value the screening read
    for change in ({"established_on": "1990-01-01"}, {"facts": {"litigation_count": 0}}):
        r = api.patch("sales1", path, json=change)
        assert r.status_code == 409, (change, r.get_json())
