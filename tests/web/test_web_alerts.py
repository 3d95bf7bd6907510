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
