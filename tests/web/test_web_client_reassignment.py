"""The console follows a client's owner as the API does: once a manager hands the client to
another sales user, its cases are in the new owner's inbox, case list, alert board and
client page, and no longer anywhere for the previous owner; and another owner's client is
"not found" for sales, as another owner's case is."""

from __future__ import annotations

from flask import Flask

from api.extensions import db
from workflow.records.identity import Actor
from workflow.risk import onboarding
from workflow.risk.alerts.intake import raise_alert
from workflow.risk.clients import service as client_service
from workflow.risk.clients.creditcode import make_credit_code

SALES1 = Actor("sales1", frozenset({"sales"}))
MANAGER = Actor("manager1", frozenset({"manager"}))
RISK = Actor("risk1", frozenset({"risk_officer"}))
NAME = "常州移交示例有限公司"


def client_with_cases(app: Flask) -> tuple[int, int, int]:
    """(client, draft admission, alert case) of sales1."""
    with app.app_context():
        client = client_service.create_client(
            db.session,
            {
                "name": NAME,
                "credit_code": make_credit_code("91320400MA1HAND01"),
                "registered_capital": "20000000",
                "ownership_type": "private",
            },
            SALES1,
        )
        admission = onboarding.start_admission(db.session, client.id, SALES1, submit=False)
        alert = raise_alert(
            db.session,
            RISK,
            {
                "client_id": client.id,
                "level": "yellow",
                "category": "negative_news",
                "title": "负面舆情",
                "details": "",
                "source": "manual",
                "external_id": "handover-1",
            },
        )
        db.session.commit()
        return client.id, admission.id, alert.instance.id


def hand_over(app: Flask, client_id: int, to: str) -> None:
    with app.app_context():
        client_service.update_client(db.session, client_id, {"owner": to}, MANAGER)
        db.session.commit()


def where_seen(console, client_id: int, cases: tuple[int, ...]) -> dict[str, object]:  # noqa: ANN001
    def links(path: str) -> set[int]:
        page = console.get(path).get_data(as_text=True)
        return {case for case in cases if f'href="/cases/{case}"' in page}

    return {
        "case pages": {case: console.get(f"/cases/{case}").status_code for case in cases},
        "inbox": links("/inbox"),
        "case list": links("/cases"),
        "alert board": NAME in console.get("/alerts").get_data(as_text=True),
        "client page": console.get(f"/clients/{client_id}").status_code,
        "client list": NAME in console.get("/clients").get_data(as_text=True),
    }


def test_a_handed_over_clients_cases_leave_the_previous_owners_console_for_the_new_owners(
    console_factory, app: Flask
) -> None:
    client_id, admission, alert = client_with_cases(app)
    cases = (admission, alert)
    sales1, sales2 = console_factory("sales1"), console_factory("sales2")
    owners_view = {
        "case pages": {admission: 200, alert: 200},
        "inbox": {admission, alert},
        "case list": {admission, alert},
        "alert board": True,
        "client page": 200,
        "client list": True,
    }
    nobodys_view = {
        "case pages": {admission: 404, alert: 404},
        "inbox": set(),
        "case list": set(),
        "alert board": False,
        "client page": 404,
        "client list": False,
    }
    assert where_seen(sales1, client_id, cases) == owners_view
    assert where_seen(sales2, client_id, cases) == nobodys_view

    hand_over(app, client_id, "sales2")

    assert where_seen(sales1, client_id, cases) == nobodys_view
    assert where_seen(sales2, client_id, cases) == owners_view
    page = sales2.get(f"/clients/{client_id}?tab=cases").get_data(as_text=True)
    assert f'href="/cases/{admission}"' in page and f'href="/cases/{alert}"' in page
