"""Issue #15, items 3 and 10, in the console: query strings and form posts follow the same
rules as the API (``workflow.platform.hygiene``) on SQLite and PostgreSQL — a NUL, control or
bidirectional character is a 422 page naming the field, never a 500 and never stored; a
number too long for int() or a date past 2100 is a field error; a surrogate cannot arrive
at all (a form or query string is UTF-8 bytes, and werkzeug replaces invalid ones)."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from api.extensions import db
from tests.support.console import CODE, FORM, Console, form_values, prospect
from workflow.risk.clients.model import Client

_VALUE = {"int": "1", "string": "x", "default": "x", "path": "x"}


def _console_gets(app: Flask) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if (
            "GET" in (rule.methods or set())
            and rule.endpoint.startswith("console.")
            and rule.endpoint != "console.static"
        ):
            paths.append(
                re.sub(
                    r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>",
                    lambda m: _VALUE.get(m.group(1) or "default", "x"),
                    rule.rule,
                )
            )
    return sorted(paths)


def _names(app: Flask) -> list[str]:
    with app.app_context():
        return [c.name for c in db.session.query(Client).all()]


@pytest.mark.parametrize("value", ["a\x00b", "a\x1bb", "a\u202eb", "a\nb"])
def test_every_console_page_refuses_a_query_string_with_control_or_bidi_characters(
    module_console_factory, module_app: Flask, value: str
) -> None:
    pages = _console_gets(module_app)
    assert len(pages) >= 10, pages
    auditor, risk = module_console_factory("auditor1"), module_console_factory("risk1")
    for path in pages:
        for console in (auditor, risk):
            response = console.get(path, query_string={"state": value, "q": value, "since": value})
            assert response.status_code == 422, (path, response.status_code)
            assert "state: Must" in response.get_data(as_text=True), path  # named, and why


@pytest.mark.parametrize("value", ["X\x00Y", "X\x07Y", "X\u202eY", "X\u2066Y"])
def test_a_client_name_with_nul_control_or_bidi_characters_is_refused_and_not_stored(
    module_console_factory, module_app: Flask, value: str
) -> None:
    sales = module_console_factory("sales1")
    response = sales.post(
        "/clients/new",
        {**FORM, "name": value, "submit_for_admission": "0"},
        token_from="/clients/new",
    )
    assert response.status_code == 422, response.status_code
    assert "name: Must not contain" in response.get_data(as_text=True)
    assert _names(module_app) == []


def test_a_line_break_in_a_name_comes_back_beside_the_field(
    module_console_factory, module_app: Flask
) -> None:
    sales = module_console_factory("sales1")
    response = sales.post(
        "/clients/new",
        {**FORM, "name": "上海\n某某", "submit_for_admission": "0"},
        token_from="/clients/new",
    )
    assert response.status_code == 422
    assert 'data-error-for="name"' in response.get_data(as_text=True)
    assert _names(module_app) == []


def test_signing_in_with_a_nul_in_the_username_is_refused_not_a_500(module_app: Flask) -> None:
    console = Console(module_app.test_client())
    response = console.login("risk1\x00")
    assert response.status_code in (401, 422), response.status_code


@pytest.mark.parametrize("digits", ["1" * 4400, "²", "٣", "1" * 30])
def test_numbers_too_long_or_not_ascii_digits_are_field_errors_not_500s(
    console_factory, app: Flask, digits: str
) -> None:
    sales = console_factory("sales1")
    response = sales.post(
        "/clients/new",
        {**FORM, "fact_litigation_count": digits, "submit_for_admission": "0"},
        token_from="/clients/new",
    )
    assert response.status_code == 422, response.status_code
    assert 'data-error-for="fact_litigation_count"' in response.get_data(as_text=True)
    client_id = prospect(app)
    page = sales.get(f"/clients/{client_id}/edit").get_data(as_text=True)
    form = {**form_values(page), "version": "1", "fact_litigation_count": digits}
    response = sales.post(
        f"/clients/{client_id}/edit", form, token_from=f"/clients/{client_id}/edit"
    )
    assert response.status_code == 422, response.status_code
    assert 'data-error-for="fact_litigation_count"' in response.get_data(as_text=True)
    risk = console_factory("risk1")
    response = risk.post(
        "/alerts",
        {"client_id": digits, "level": "red", "category": "litigation", "title": "涉诉"},
        token_from="/alerts",
    )
    assert response.status_code == 422, response.status_code
    auditor = console_factory("auditor1")
    for name in ("instance_id", "client_id"):
        response = auditor.get("/audit/records", query_string={name: digits})
        assert response.status_code == 422, (name, response.status_code)


@pytest.mark.parametrize("day", ["9999-12-31", "0001-01-01", "2101-01-01"])
def test_audit_pages_refuse_days_outside_1900_to_2100(module_console_factory, day: str) -> None:
    auditor = module_console_factory("auditor1")
    for path in ("/audit/records", "/audit"):
        for name in ("since", "until"):
            response = auditor.get(path, query_string={name: day})
            assert response.status_code == 422, (path, name, response.status_code)


def test_a_surrogate_cannot_reach_the_database_through_a_form(console_factory, app: Flask) -> None:
    sales = console_factory("sales1")
    token = sales.csrf("/clients/new")
    body = (
        f"csrf_token={token}&credit_code={CODE}&submit_for_admission=0&name=Acme%ED%A0%80Ltd"
    ).encode()
    response = sales.client.post(
        "/clients/new", data=body, content_type="application/x-www-form-urlencoded"
    )
    assert response.status_code < 500
    for name in _names(app):
        name.encode("utf-8")  # no lone surrogate: it would not encode
