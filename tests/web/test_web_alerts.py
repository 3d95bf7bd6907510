"""The alerts board and its raise form through Flask's test client."""

from __future__ import annotations

from flask import Flask

from api.extensions import db
from tests.support.console import new_client
from workflow.risk.alerts.intake import Alert


def alert_count(app: Flask) -> int:
    with app.app_context():
        return db.session.query(Alert).count()


def test_raising_an_alert_needs_csrf_and_a_raiser_role(console_factory, app: Flask) -> None:
    client_id = new_client(console_factory("sales1"), app)
    form = {"client_id": str(client_id), "level": "red", "category": "litigation", "title": "涉诉"}
    assert console_factory("risk1").post("/alerts", form, csrf=False).status_code == 400
    assert console_factory("sales1").post("/alerts", form).status_code == 403
    assert alert_count(app) == 0
    response = console_factory("risk1").post("/alerts", form)
    assert response.status_code == 302 and response.headers["Location"].startswith("/cases/")
    assert alert_count(app) == 1


def test_the_board_counts_by_level_and_stage(console_factory, app: Flask) -> None:
    client_id = new_client(console_factory("sales1"), app)
    risk = console_factory("risk1")
    risk.post(
        "/alerts", {"client_id": str(client_id), "level": "red", "category": "other", "title": "A"}
    )
    page = risk.get("/alerts").get_data(as_text=True)
    assert 'data-level="red" data-state="warned">1<' in page
    assert console_factory("sales2").get("/alerts").status_code == 200
    assert "暂无预警" in console_factory("sales2").get("/alerts").get_data(as_text=True)


def test_an_unknown_client_is_reported_on_the_form(console_factory, app: Flask) -> None:
    response = console_factory("risk1").post(
        "/alerts", {"client_id": "999999", "level": "red", "category": "other", "title": "A"}
    )
    assert response.status_code == 422 and alert_count(app) == 0


def test_the_alert_page_shows_legal_as_owner_where_routed_and_as_reader_elsewhere(
    console_factory, app: Flask
) -> None:
    client_id = new_client(console_factory("sales1"), app)
    risk = console_factory("risk1")
    cases = {}
    for category in ("litigation", "payment_overdue"):
        response = risk.post(
            "/alerts",
            {"client_id": str(client_id), "level": "red", "category": category, "title": "T"},
        )
        cases[category] = response.headers["Location"]
    legal = console_factory("legal1")

    owned = legal.get(cases["litigation"]).get_data(as_text=True)
    assert 'data-owner="legal1">legal1 · 法务' in owned
    assert 'data-part="owner">负责人：已分派给您，由您处理' in owned
    assert 'data-action="respond"' in owned
    other = legal.get(cases["payment_overdue"]).get_data(as_text=True)
    assert 'data-owner="legal1"' not in other
    assert 'data-part="reader">未分派给您：仅可查看' in other
    assert 'data-action="respond"' not in other
