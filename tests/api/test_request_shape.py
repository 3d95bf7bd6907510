"""Refusals of a request's shape, the same on every operation:
an unknown query parameter is a 400 naming it (never silently ignored), a value that does
not fit is a 422 naming its parameter, and a body that is not JSON sent to an operation
that reads JSON is a 415; the OpenAPI document lists the 400 and 415 where they happen."""

from __future__ import annotations

import re
from datetime import UTC
from io import BytesIO

import pytest
from flask import Flask

from tests.support.app import Api
from workflow.platform import clock
from workflow.risk.alerts.webhook import sign

SECRET = "request-shape-webhook-secret"


@pytest.fixture
def app(module_app: Flask) -> Flask:
    """One app for the module: its requests are refused before anything is written, or
    read, or write nothing (an empty import, marking no notification read)."""
    return module_app


def _operations(api: Api) -> list[tuple[str, str, dict]]:
    doc = api.get(None, "/api/v1/openapi.json").get_json()
    return [
        (method.upper(), path, op)
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method != "parameters"
    ]


def _concrete(path: str) -> str:
    return re.sub(r"\{[^}]+\}", "1", path)


def _signed(body: bytes) -> dict[str, str]:
    """Webhook signature headers (the webhook authenticates by signature, first)."""
    stamp = str(int(clock.now().replace(tzinfo=UTC).timestamp()))
    return {"X-Riskloop-Timestamp": stamp, "X-Riskloop-Signature": sign(SECRET, stamp, body)}


def test_every_operation_refuses_an_unknown_query_parameter_with_a_400_naming_it(
    api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """For a caller who may call the operation; one who may not (an auditor creating a
    client, anyone asking for case 1 of an empty database) is refused first, whatever the
    query says: tests/api/test_authz_matrix.py proves both sides on every route."""
    monkeypatch.setenv("RISKLOOP_WEBHOOK_SECRET", SECRET)
    operations = _operations(api)
    assert len(operations) >= 25
    refused = {}
    for method, path, op in operations:
        r = api.call(
            method,
            "auditor1",
            _concrete(path),
            query_string={"limit": "5", "colour": "red"},
            data=b"{}",
            content_type="application/json",
            headers=_signed(b"{}"),
        )
        body = r.get_json()
        label = f"{method} {path}"
        if r.status_code in (403, 404):
            refused[label] = r.status_code
            continue
        assert r.status_code == 400 and r.mimetype == "application/problem+json", (label, body)
        assert body["type"].endswith("/bad-query") and "colour" in body["detail"], label
        documented = {p["name"] for p in op.get("parameters", []) if p["in"] == "query"}
        assert set(body["errors"]) == {"colour"} | ({"limit"} - documented), (label, body)
    # the auditor may call every read that names no record: each of those named the parameter
    assert not [label for label in refused if label.startswith("GET") and "{" not in label], refused


def test_the_lists_that_ignored_unknown_parameters_now_name_them(api: Api) -> None:
    for path in (
        "/api/v1/workflows",
        "/api/v1/clients",
        "/api/v1/alerts",
        "/api/v1/tasks",
        "/api/v1/definitions",
        "/api/v1/notifications",
    ):
        r = api.get("risk1", path, query_string={"foo": "1", "stat": "active"})
        assert r.status_code == 400, path
        assert r.get_json()["errors"] == {
            "foo": ["Unknown query parameter."],
            "stat": ["Unknown query parameter."],
        }, path


@pytest.mark.parametrize(
    ("user", "path", "params", "field"),
    [
        ("risk1", "/api/v1/workflows", {"limit": "-1"}, "limit"),
        ("risk1", "/api/v1/alerts", {"level": "pink"}, "level"),
        ("risk1", "/api/v1/clients", {"limit": "abc"}, "limit"),
        ("auditor1", "/api/v1/audit", {"limit": "-1"}, "limit"),
        ("auditor1", "/api/v1/audit", {"since": "not-a-time"}, "since"),
        ("auditor1", "/api/v1/reports/sla", {"since": "yesterday"}, "since"),
    ],
)
def test_a_known_parameter_with_a_value_that_does_not_fit_is_a_422_naming_it(
    api: Api, user, path, params, field
) -> None:
    r = api.get(user, path, query_string=params)
    assert r.status_code == 422 and r.get_json()["type"].endswith("/validation")
    assert list(r.get_json()["errors"]) == [field]


def test_known_parameters_still_work_and_authentication_answers_before_the_query(api: Api) -> None:
    assert (
        api.get(
            "risk1", "/api/v1/workflows", query_string={"limit": "5", "open": "true"}
        ).status_code
        == 200
    )
    assert api.get("auditor1", "/api/v1/audit", query_string={"limit": "5"}).status_code == 200
    assert api.get(None, "/api/v1/workflows", query_string={"foo": "1"}).status_code == 401
    assert api.get(None, "/healthz", query_string={"foo": "1"}).status_code == 200  # not the API


def test_a_flood_of_unknown_parameters_is_named_in_bounded_space(api: Api) -> None:
    params = {f"p{i:03d}{'x' * 500}": "1" for i in range(50)}
    r = api.get("risk1", "/api/v1/workflows", query_string=params)
    assert r.status_code == 400 and len(r.get_data()) < 3000
    assert len(r.get_json()["errors"]) == 10


@pytest.mark.parametrize(
    ("data", "content_type"),
    [
        ("name=x&credit_code=y", "application/x-www-form-urlencoded"),
        ('{"name": "x"}', "text/plain"),
        (b'{"name": "x"}', None),
    ],
)
def test_a_body_that_is_not_json_is_a_415_problem_on_a_json_operation(
    api: Api, data, content_type
) -> None:
    headers = {"Content-Type": content_type or ""}  # "": a body with no media type named
    r = api.post("sales1", "/api/v1/clients", data=data, headers=headers)
    assert r.status_code == 415 and r.mimetype == "application/problem+json", r.get_json()
    assert (
        r.get_json()["type"].endswith("/unsupported-media-type")
        and "application/json" in r.get_json()["detail"]
    )
    sign_in = api.post(None, "/api/v1/auth/token", data={"username": "risk1", "password": "x" * 10})
    assert sign_in.status_code == 415


def test_json_with_a_charset_or_a_problem_type_is_still_json(api: Api) -> None:
    r = api.post(
        None,
        "/api/v1/auth/token",
        data='{"username": "risk1", "password": "correct-horse-battery"}',
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert r.status_code == 200
    empty = api.post("risk1", "/api/v1/notifications/read-all")  # no body at all: nothing to refuse
    assert empty.status_code == 200


def test_multipart_operations_still_take_their_files(api: Api) -> None:
    csv = b"name,credit_code\n"
    r = api.post(
        "sales1",
        "/api/v1/clients/import",
        data={"file": (BytesIO(csv), "clients.csv")},
        content_type="multipart/form-data",
    )
    assert r.status_code in (200, 422) and r.status_code != 415, r.get_json()


def test_the_openapi_document_lists_the_400_everywhere_and_the_415_on_json_bodies(api: Api) -> None:
    for method, path, op in _operations(api):
        label = f"{method} {path}"
        assert "400" in op["responses"], label
        reads_json = "application/json" in op.get("requestBody", {}).get("content", {})
        assert ("415" in op["responses"]) == reads_json or "multipart/form-data" in op[
            "requestBody"
        ]["content"], label
