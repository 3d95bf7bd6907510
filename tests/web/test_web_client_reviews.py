"""Opening an ad-hoc due diligence from the client page: risk officers and managers see the
button and land on the new case; a second one is taken to the review already open; sales
neither see the button nor may post it."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from api.extensions import db
from tests.support.console import new_client
from workflow.records.models import WorkflowInstance


def reviews(app: Flask, client_id: int) -> list[WorkflowInstance]:
    with app.app_context():
        rows = db.session.execute(
            select(WorkflowInstance).where(
                WorkflowInstance.definition == "due_diligence",
                WorkflowInstance.subject_id == client_id,
            )
        ).scalars()
        return [db.session.merge(r, load=False) for r in rows]


def test_a_risk_officer_opens_a_due_diligence_from_the_client_page(
    app: Flask, console_factory
) -> None:
    sales = console_factory("sales1")
    client_id = new_client(sales, app)
    page = f"/clients/{client_id}"
    assert "data-open-review" not in sales.get(page).get_data(as_text=True)
    assert sales.post(f"{page}/due-diligence", {}, token_from=page).status_code == 403

    risk = console_factory("risk1")
    assert "发起尽职调查" in risk.get(page).get_data(as_text=True)
    opened = risk.post(f"{page}/due-diligence", {"comment": "媒体报道涉诉"}, token_from=page)
    assert opened.status_code == 302
    [case] = reviews(app, client_id)
    assert opened.headers["Location"].endswith(f"/cases/{case.id}")
    assert (case.state, case.data["reason"], case.created_by) == ("opened", "ad_hoc", "risk1")
    shown = risk.get(f"/cases/{case.id}").get_data(as_text=True)
    assert "已发起尽职调查" in shown and "媒体报道涉诉" in shown

    again = console_factory("manager1").post(f"{page}/due-diligence", {}, token_from=page)
    assert again.status_code == 302 and again.headers["Location"].endswith(f"/cases/{case.id}")
    assert len(reviews(app, client_id)) == 1
