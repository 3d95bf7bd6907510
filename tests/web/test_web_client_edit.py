"""Editing a client's ordinary fields in the console (was API-only): the same service as
PATCH /api/v1/clients/{id}; values masked from sales stay as they were unless filled in;
a stale form is refused; CSRF and the owner rule hold."""

from __future__ import annotations

import re
from decimal import Decimal

import pytest
from flask import Flask

from api.extensions import db
from tests.support.console import form_values, prospect
from workflow.records.identity import Actor
from workflow.risk.clients import service as client_service
from workflow.risk.clients.model import Client

SALES = Actor("sales1", frozenset({"sales"}))


def test_sales_edits_what_they_see_and_masked_values_stay(console_factory, app: Flask) -> None:
    client_id = prospect(app)
    sales = console_factory("sales1")
    page = sales.get(f"/clients/{client_id}/edit").get_data(as_text=True)
    values = form_values(page)
    assert values["industry"] == "制造业"
    # Masked from sales: empty on the form, never the mask itself.
    assert values["registered_capital"] == ""
    assert values["fact_litigation_count"] == ""
    assert "30000000" not in page and "138****8000" not in page
    # the owner sees (and may correct) the contacts they collected
    assert values["contact_phone"] == "13800138000"
    version = re.search(r'name="version" value="(\d+)"', page).group(1)
    form = {**values, "version": version, "industry": "新材料", "fact_litigation_count": "2"}
    response = sales.post(
        f"/clients/{client_id}/edit", form, token_from=f"/clients/{client_id}/edit"
    )
    assert response.status_code == 302 and response.headers["Location"].endswith(
        f"/clients/{client_id}"
    )
    with app.app_context():
        row = db.session.get(Client, client_id)
        assert row.industry == "新材料"
        assert row.facts == {"litigation_count": 2, "payment_history": "good"}  # merged
        assert row.registered_capital == Decimal("30000000")
        assert row.contacts == [
            {"name": "周七", "phone": "13800138000", "email": "zhou@example.com"}
        ]
        version = row.version
    # Filling in a masked value replaces it.
    form = {**form, "version": str(version), "registered_capital": "45,000,000"}
    assert (
        sales.post(
            f"/clients/{client_id}/edit", form, token_from=f"/clients/{client_id}/edit"
        ).status_code
        == 302
    )
    with app.app_context():
        assert db.session.get(Client, client_id).registered_capital == Decimal("45000000")


@pytest.mark.parametrize(("lang", "word"), [("zh_CN", "请刷新"), ("en", "reload")])
def test_a_stale_form_is_refused_and_changes_nothing(
    console_factory, app: Flask, lang: str, word: str
) -> None:
    client_id = prospect(app)
    console = console_factory()
    console.post("/language", {"lang": lang, "next": "/login"}, token_from="/login")
    assert console.login("sales1").status_code == 302
    page = console.get(f"/clients/{client_id}/edit").get_data(as_text=True)
    form = {**form_values(page), "version": "1", "industry": "贸易"}
    with app.app_context():
        client_service.update_client(db.session, client_id, {"region": "宁波"}, SALES)
        db.session.commit()
    response = console.post(
        f"/clients/{client_id}/edit", form, token_from=f"/clients/{client_id}/edit"
    )
    assert response.status_code == 409
    page = response.get_data(as_text=True)
    assert word in page.lower()
    values = form_values(page)  # the form starts again from the record as it now is
    assert values["region"] == "宁波" and values["industry"] == "制造业"
    with app.app_context():
        assert db.session.get(Client, client_id).industry == "制造业"


def test_a_bad_value_comes_back_beside_its_field(console_factory, app: Flask) -> None:
    client_id = prospect(app)
    sales = console_factory("sales1")
    page = sales.get(f"/clients/{client_id}/edit").get_data(as_text=True)
    form = {**form_values(page), "version": "1", "contact_phone": "abc"}
    response = sales.post(
        f"/clients/{client_id}/edit", form, token_from=f"/clients/{client_id}/edit"
    )
    assert response.status_code == 422
    assert 'data-error-for="contact_phone"' in response.get_data(as_text=True)


def test_edit_needs_csrf_an_editor_role_and_the_owner(console_factory, app: Flask) -> None:
    client_id = prospect(app)
    sales = console_factory("sales1")
    assert (
        sales.post(
            f"/clients/{client_id}/edit", {"industry": "x", "version": "1"}, csrf=False
        ).status_code
        == 400
    )
    assert console_factory("sales2").get(f"/clients/{client_id}/edit").status_code == 404
    assert console_factory("legal1").get(f"/clients/{client_id}/edit").status_code == 403
    assert console_factory("auditor1").get(f"/clients/{client_id}/edit").status_code == 403
    risk = console_factory("risk1")
    page = risk.get(f"/clients/{client_id}/edit").get_data(as_text=True)
    assert form_values(page)["contact_phone"] == "13800138000"  # risk sees it unmasked
    assert form_values(page)["fact_litigation_count"] == "0"
    assert "data-edit-client" in sales.get(f"/clients/{client_id}").get_data(as_text=True)
    assert "data-edit-client" not in console_factory("legal1").get(
        f"/clients/{client_id}"
    ).get_data(as_text=True)
    with app.app_context():
        assert db.session.get(Client, client_id).industry == "制造业"
