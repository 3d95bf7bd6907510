"""Issue #15, items 3 and 10 — input no route may store or choke on, refused the same way
on SQLite and PostgreSQL: lone UTF-16 surrogates, integers too long to parse, NaN and
infinities, NUL, control and bidirectional-formatting characters, dates and amounts out of
range. Each is a 422 problem document naming the field — before authentication where the
route has none, never a 500, never stored."""

from __future__ import annotations

import re
from datetime import UTC
from typing import Any

import pytest
from flask import Flask

from tests.support.app import Api
from tests.support.cases import start_case
from workflow.platform import clock
from workflow.risk.alerts.webhook import sign

SECRET = "input-hygiene-webhook-secret"
CODE = "91350100M000100Y43"
HUGE = "1" * 4400  # past Python's 4,300-digit limit on int(): a ValueError inside json.loads
SURROGATES = ("\\ud800", "\\udfff", "a\\udc00b", "\\ude00\\ud83d")  # JSON escapes, as sent


def _raw(
    api: Api,
    method: str,
    user: str | None,
    path: str,
    text: str,
    headers: dict[str, str] | None = None,
):  # noqa: ANN202
    return api.call(
        method,
        user,
        path,
        data=text.encode(),
        content_type="application/json",
        headers=headers or {},
    )


def _at(errors: Any, path: str) -> Any:
    """The messages at a dotted path of a problem's (nested) ``errors``, or None."""
    for part in path.split("."):
        if not isinstance(errors, dict) or part not in errors:
            return None
        errors = errors[part]
    return errors


def _refused(response: Any, field: str, words: str) -> None:
    """A 422 problem document with a message containing ``words`` at ``field`` (dotted)."""
    body = response.get_json()
    assert response.status_code == 422, (response.status_code, body)
    assert response.mimetype == "application/problem+json", body
    messages = _at(body["errors"], field)
    assert isinstance(messages, list), body
    assert words in " ".join(map(str, messages)), body


def _signed(body: bytes) -> dict[str, str]:
    stamp = str(int(clock.now().replace(tzinfo=UTC).timestamp()))
    return {"X-Riskloop-Timestamp": stamp, "X-Riskloop-Signature": sign(SECRET, stamp, body)}


# --- item 3: the JSON layer ------------------------------------------------------------


@pytest.mark.parametrize("escape", SURROGATES)
def test_a_lone_surrogate_at_sign_in_is_a_422_naming_the_field_not_a_500(
    module_api: Api, escape: str
) -> None:
    r = _raw(
        module_api,
        "POST",
        None,
        "/api/v1/auth/token",
        '{"username": "u' + escape + '", "password": "x"}',
    )
    _refused(r, "username", "surrogate")
    r = _raw(
        module_api,
        "POST",
        None,
        "/api/v1/auth/token",
        '{"username": "u", "password": "' + escape + '"}',
    )
    _refused(r, "password", "surrogate")


def test_a_well_formed_surrogate_pair_is_ordinary_text(module_api: Api) -> None:
    r = _raw(
        module_api,
        "POST",
        None,
        "/api/v1/auth/token",
        '{"username": "\\ud83d\\ude00", "password": "x"}',
    )
    assert r.status_code == 401, r.get_json()


def test_an_integer_of_4400_digits_at_sign_in_is_a_422_naming_the_field_not_a_500(
    module_api: Api,
) -> None:
    r = _raw(
        module_api,
        "POST",
        None,
        "/api/v1/auth/token",
        '{"username": ' + HUGE + ', "password": "x"}',
    )
    _refused(r, "username", "digits")
    r = _raw(
        module_api,
        "POST",
        None,
        "/api/v1/auth/token",
        '{"username": "u", "password": "x", "n": -' + HUGE + "}",
    )
    _refused(r, "n", "digits")


@pytest.mark.parametrize("literal", ["NaN", "Infinity", "-Infinity", "1e400", "-1e999"])
def test_nan_and_infinite_numbers_are_refused_naming_the_field(
    module_api: Api, literal: str
) -> None:
    r = _raw(
        module_api,
        "POST",
        "sales1",
        "/api/v1/clients",
        '{"name": "Acme", "credit_code": "' + CODE + '", "contracts": [{"number": "c1", '
        '"amount": ' + literal + ', "start": "2024-01-01", "end": "2025-01-01"}]}',
    )
    _refused(r, "contracts.0.amount", "finite")


def _json_routes(app: Flask, api: Api) -> list[tuple[str, str, bool]]:
    """(method, concrete path, reads JSON) of every API route that takes a body."""
    doc = api.get(None, "/api/v1/openapi.json").get_json()
    reads_json = {
        (m.upper(), p)
        for p, ops in doc["paths"].items()
        for m, op in ops.items()
        if m != "parameters" and "application/json" in op.get("requestBody", {}).get("content", {})
    }
    routes = []
    for rule in app.url_map.iter_rules():
        if not rule.rule.startswith("/api/"):
            continue
        documented = re.sub(r"<(?:\w+(?:\([^)]*\))?:)?(\w+)>", r"{\1}", rule.rule)
        concrete = re.sub(r"<[^>]+>", "1", rule.rule)
        for method in sorted((rule.methods or set()) & {"POST", "PUT", "PATCH", "DELETE"}):
            routes.append((method, concrete, (method, documented) in reads_json))
    return routes


@pytest.mark.parametrize("kind", ["surrogate", "huge integer", "NUL", "bidi override"])
def test_every_api_route_refuses_a_bad_value_in_its_json_body_before_its_view(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch, kind: str
) -> None:
    """The JSON layer answers before any view, so no route can forget it. Who may call a
    route is decided first (roles before bodies): a caller refused by the route gets that
    refusal whatever the body carries, so each route is tried by callers of several roles
    until one gets past it; the webhook authenticates by signature first."""
    monkeypatch.setenv("RISKLOOP_WEBHOOK_SECRET", SECRET)
    value = {
        "surrogate": '"x\\ud800"',
        "huge integer": HUGE,
        "NUL": '"x\\u0000"',
        "bidi override": '"x\\u202ey"',
    }[kind]
    words = {
        "surrogate": "surrogate",
        "huge integer": "digits",
        "NUL": "control",
        "bidi override": "bidirectional",
    }[kind]
    text = '{"comment": "fine", "deep": {"list": [1, ' + value + "]}}"
    routes = [r for r in _json_routes(app, api) if r[:2] != ("DELETE", "/api/v1/auth/token")]
    assert sum(reads for _, _, reads in routes) >= 9, routes
    proven, refused_only = [], []
    for method, path, reads_json in routes:
        label = f"{method} {path}"
        statuses = []
        for user in ("manager1", "risk1", "sales1", "legal1", "admin"):
            r = _raw(api, method, user, path, text, headers=_signed(text.encode()))
            assert r.status_code < 500, (label, user, r.status_code)
            statuses.append(r.status_code)
            if reads_json and r.status_code == 422:
                _refused(r, "deep.list.1", words)
                proven.append(label)
                break
        else:
            if reads_json:
                assert set(statuses) <= {401, 403, 404}, (label, statuses)
                refused_only.append(label)
    # Routes naming a record (id 1 here, which no one may see) are refused first: 404.
    assert len(proven) >= 4, (proven, refused_only)


def test_query_parameters_with_control_or_bidi_characters_are_refused_naming_them(
    module_api: Api,
) -> None:
    for path, name, value in (
        ("/api/v1/clients", "q", "a\x00b"),
        ("/api/v1/workflows", "state", "a\u202eb"),
        ("/api/v1/alerts", "owner", "a\x1bb"),
        ("/api/v1/clients", "q", "a\nb"),
    ):
        r = module_api.get("risk1", path, query_string={name: value})
        _refused(r, name, "control" if value != "a\u202eb" else "bidirectional")


# --- item 10: field rules --------------------------------------------------------------


def _client_count(api: Api) -> int:
    return len(api.get("risk1", "/api/v1/clients").get_json()["items"])


@pytest.mark.parametrize(
    "char",
    [
        "\x00",
        "\x07",
        "\x1b",
        "\x7f",
        "\x85",
        "\u202a",
        "\u202e",
        "\u2066",
        "\u2069",
        "\n",
        "\t",
        "\u2028",
    ],
)
def test_control_and_bidi_characters_in_names_are_refused_and_nothing_is_stored(
    module_api: Api, char: str
) -> None:
    before = _client_count(module_api)
    r = module_api.post(
        "sales1", "/api/v1/clients", json={"name": f"Acme{char}Ltd", "credit_code": CODE}
    )
    _refused(r, "name", "character")
    r = module_api.post(
        "sales1",
        "/api/v1/clients",
        json={"name": "Acme", "credit_code": CODE, "contacts": [{"name": f"Li{char}"}]},
    )
    _refused(r, "contacts.0.name", "character")
    r = module_api.post(
        "sales1",
        "/api/v1/clients",
        json={"name": "Acme", "credit_code": CODE, "tags": [f"vip{char}"]},
    )
    _refused(r, "tags.0", "character")
    assert _client_count(module_api) == before


def test_newlines_and_tabs_stay_allowed_in_free_text_but_control_characters_do_not(
    app: Flask, api: Api
) -> None:
    case = start_case(app, submit=False)
    r = api.act("sales1", case, "submit", comment="line one\n\tline two\r\n")
    assert r.status_code == 200, r.get_json()
    _refused(api.act("risk1", case, "approve", amount=1, comment="a\x00b"), "comment", "control")
    _refused(
        api.act("risk1", case, "approve", amount=1, comment="a\u202eb"), "comment", "bidirectional"
    )


def test_nul_in_a_change_request_is_a_422_naming_the_field_on_both_databases(api: Api) -> None:
    client = api.post(
        "sales1", "/api/v1/clients", json={"name": "Acme", "credit_code": CODE}
    ).get_json()
    r = api.post(
        "sales1",
        f"/api/v1/clients/{client['id']}/change-requests",
        json={"changes": {"legal_representative": "Zhang\x00San"}, "reason": "new"},
    )
    _refused(r, "changes.legal_representative", "control")
    r = api.post(
        "sales1",
        f"/api/v1/clients/{client['id']}/change-requests",
        json={"changes": {"legal_representative": "Zhang\u202eSan"}, "reason": "new"},
    )
    _refused(r, "changes.legal_representative", "bidirectional")


@pytest.mark.parametrize("day", ["0001-01-01", "1899-12-31", "2101-01-01", "9999-12-31"])
def test_dates_outside_1900_to_2100_are_refused_naming_the_field(module_api: Api, day: str) -> None:
    r = module_api.post(
        "sales1",
        "/api/v1/clients",
        json={"name": "Acme", "credit_code": CODE, "established_on": day},
    )
    _refused(r, "established_on", "1900-01-01")
    r = module_api.post(
        "sales1",
        "/api/v1/clients",
        json={
            "name": "Acme",
            "credit_code": CODE,
            "contracts": [{"number": "c1", "start": day, "end": "2030-01-01"}],
        },
    )
    _refused(r, "contracts.0.start", "1900-01-01")


def test_the_first_and_last_allowed_days_are_accepted(api: Api) -> None:
    r = api.post(
        "sales1",
        "/api/v1/clients",
        json={
            "name": "Acme",
            "credit_code": CODE,
            "established_on": "1900-01-01",
            "contracts": [{"number": "c1", "start": "1900-01-01", "end": "2100-12-31"}],
        },
    )
    assert r.status_code == 201, r.get_json()


@pytest.mark.parametrize("amount", [1e308, 1e17, 1.7976931348623157e308])
def test_amounts_beyond_the_money_maximum_are_refused_naming_the_field(
    api: Api, amount: float
) -> None:
    for body, field in (
        ({"registered_capital": amount}, "registered_capital"),
        ({"credit_limit": amount}, "credit_limit"),
        (
            {
                "contracts": [
                    {"number": "c1", "amount": amount, "start": "2024-01-01", "end": "2025-01-01"}
                ]
            },
            "contracts.0.amount",
        ),
    ):
        r = api.post(
            "sales1", "/api/v1/clients", json={"name": "Acme", "credit_code": CODE, **body}
        )
        assert r.status_code == 422 and _at(r.get_json()["errors"], field), (field, r.get_json())
    assert (
        api.post(
            "sales1",
            "/api/v1/clients",
            json={
                "name": "Acme",
                "credit_code": CODE,
                "registered_capital": 99999999999999.99,
                "contracts": [
                    {"number": "c1", "amount": 1e16, "start": "2024-01-01", "end": "2025-01-01"}
                ],
            },
        ).status_code
        == 201
    )


def test_a_payload_number_without_a_declared_maximum_is_still_bounded(app: Flask, api: Api) -> None:
    case = start_case(app, submit=False)
    api.act("sales1", case, "submit")
    r = api.act("risk1", case, "approve", amount=10**30)
    _refused(r, "amount", "less than or equal to")


@pytest.mark.parametrize(
    "query",
    [
        "since=0001-01-01T00:00:00%2B01:00",
        "until=9999-12-31T23:59:59-01:00",
        "since=1899-12-31T00:00:00Z",
    ],
)
def test_time_ranges_out_of_bounds_are_a_422_not_a_500(module_api: Api, query: str) -> None:
    for path in ("/api/v1/audit", "/api/v1/reports/sla", "/api/v1/reports/closed-loops"):
        r = module_api.get("auditor1", f"{path}?{query}")
        _refused(r, query.split("=")[0], "1900-01-01")


def test_an_import_row_with_nul_or_bidi_characters_is_a_row_error_naming_the_field(
    api: Api,
) -> None:
    """The spreadsheet door uses the same client schema."""
    import io

    from workflow.risk.clients.creditcode import make_credit_code

    header = "name,credit_code,registered_capital,ownership_type,bank_account,contact_name,contact_phone,litigation_count,tags"
    rows = [
        f"Nul\x00Co,{make_credit_code('91510100000000001')},1,private,,,,0,",
        f"Bidi\u202eCo,{make_credit_code('91510100000000002')},1,private,,,,0,",
        f"Tag Co,{make_credit_code('91510100000000003')},1,private,,,,0,vip\x07",
    ]
    content = ("\n".join((header, *rows)) + "\n").encode("utf-8")
    r = api.post(
        "sales1",
        "/api/v1/clients/import?dry_run=true",
        data={"file": (io.BytesIO(content), "clients.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code == 200, r.get_json()
    assert {(e["row"], e["field"]) for e in r.get_json()["errors"]} == {
        (2, "name"),
        (3, "name"),
        (4, "tags"),
    }
