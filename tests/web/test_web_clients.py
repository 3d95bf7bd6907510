"""Client pages through Flask's test client: the form calls the client and onboarding
services, errors come back beside the fields, and masking follows the role."""

from __future__ import annotations

from flask import Flask

from api.extensions import db
from tests.support.console import CODE, FORM, client_row
from workflow.records.models import AuditRecord, WorkflowInstance


def test_new_client_form_creates_a_prospect(console_factory, app: Flask) -> None:
    sales = console_factory("sales1")
    response = sales.post(
        "/clients/new", {**FORM, "submit_for_admission": "0"}, token_from="/clients/new"
    )
    assert response.status_code == 302
    row = client_row(app)
    assert row is not None and row.status == "prospect" and row.owner == "sales1"
    page = sales.get(response.headers["Location"]).get_data(as_text=True)
    assert "上海某某贸易有限公司" in page and "data-submit-admission" in page


def test_save_and_submit_starts_the_admission(console_factory, app: Flask) -> None:
    sales = console_factory("sales1")
    response = sales.post("/clients/new", {**FORM, "submit_for_admission": "1"})
    assert response.status_code == 302
    row = client_row(app)
    with app.app_context():
        case = (
            db.session.query(WorkflowInstance)
            .filter_by(definition="client_onboarding", subject_id=row.id)
            .one()
        )
        assert case.state != "draft"
    assert "提交准入" in sales.get(f"/cases/{case.id}").get_data(as_text=True)


def test_invalid_fields_are_shown_beside_them(console_factory, app: Flask) -> None:
    sales = console_factory("sales1")
    bad = {**FORM, "credit_code": CODE[:-1] + "0", "contact_phone": "abc"}
    response = sales.post("/clients/new", bad)
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-error-for="credit_code"' in page and 'data-error-for="contact_phone"' in page
    assert 'value="上海某某贸易有限公司"' in page  # what was typed is kept
    assert client_row(app, CODE[:-1] + "0") is None


def test_the_form_needs_csrf_and_a_role_that_may_create(console_factory, app: Flask) -> None:
    sales = console_factory("sales1")
    assert sales.post("/clients/new", FORM, csrf=False).status_code == 400
    auditor = console_factory("auditor1")
    assert auditor.post("/clients/new", FORM).status_code == 403
    assert client_row(app) is None


def test_a_duplicate_credit_code_is_refused_on_the_field(console_factory) -> None:
    sales = console_factory("sales1")
    sales.post("/clients/new", FORM)
    response = sales.post("/clients/new", FORM)
    assert response.status_code == 409
    assert 'data-error-for="credit_code"' in response.get_data(as_text=True)


def test_sales_never_see_an_unmasked_bank_account(console_factory, app: Flask) -> None:
    sales = console_factory("sales1")
    location = sales.post("/clients/new", FORM).headers["Location"]
    for path in (location, "/clients"):
        page = sales.get(path).get_data(as_text=True)
        assert "6222021234567890123" not in page
        assert "0123" in page  # the last four digits identify it
    # the owner sees the contacts they collected
    assert "13812345678" in sales.get(location).get_data(as_text=True)
    risk = console_factory("risk1")
    assert "6222021234567890123" in risk.get(location).get_data(as_text=True)
    with app.app_context():
        reads = (
            db.session.query(AuditRecord)
            .filter_by(kind="client.sensitive_read", actor="risk1")
            .count()
        )
    assert reads >= 1


def test_another_salesperson_cannot_open_the_client(console_factory) -> None:
    location = console_factory("sales1").post("/clients/new", FORM).headers["Location"]
    other = console_factory("sales2")
    assert other.get(location).status_code == 404  # as a missing one, as another's case is
    assert "上海某某贸易有限公司" not in other.get("/clients").get_data(as_text=True)


def test_submit_for_admission_needs_csrf_and_the_owner(console_factory, app: Flask) -> None:
    sales = console_factory("sales1")
    sales.post("/clients/new", {**FORM, "submit_for_admission": "0"})
    client_id = client_row(app).id
    path = f"/clients/{client_id}/admission"
    assert sales.post(path, csrf=False).status_code == 400
    assert console_factory("sales2").post(path).status_code == 404
    response = sales.post(path)
    assert response.status_code == 302 and response.headers["Location"].startswith("/cases/")
    assert sales.post(path).status_code == 409  # already running


def test_client_list_filters_and_searches(console_factory) -> None:
    sales = console_factory("sales1")
    sales.post("/clients/new", FORM)
    assert "上海某某贸易有限公司" in sales.get("/clients?q=某某").get_data(as_text=True)
    assert "上海某某贸易有限公司" not in sales.get("/clients?status=active").get_data(as_text=True)


def test_sales_do_not_see_the_record_history_with_hidden_figures(console_factory) -> None:
    location = console_factory("sales1").post("/clients/new", FORM).headers["Location"]
    page = console_factory("sales1").get(location).get_data(as_text=True)
    assert "5000000" not in page and "5,000,000" not in page
    assert "5,000,000.00" in console_factory("risk1").get(location).get_data(as_text=True)
