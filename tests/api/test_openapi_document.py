"""Issue #15, item 8 — /api/v1/openapi.json is a valid OpenAPI 3 document that says what
the server does: numbers bound as numbers, bodies that refuse unknown fields say
``additionalProperties: false``, and what the server refuses is not documented as valid."""

from __future__ import annotations

from typing import Any

import pytest
from flask import Flask
from openapi_spec_validator import OpenAPIV30SpecValidator

from tests.support.app import Api


@pytest.fixture
def app(module_app: Flask) -> Flask:
    """One app for the module: its tests only read the document."""
    return module_app


def _doc(api: Api) -> dict[str, Any]:
    return api.get(None, "/api/v1/openapi.json").get_json()


def _resolve(doc: dict[str, Any], schema: dict[str, Any]) -> dict[str, Any]:
    while "$ref" in schema:
        schema = doc["components"]["schemas"][schema["$ref"].rsplit("/", 1)[1]]
    return schema


def _walk(node: Any, path: str = ""):  # noqa: ANN202
    if isinstance(node, dict):
        yield path, node
        for key, value in node.items():
            yield from _walk(value, f"{path}/{key}")
    elif isinstance(node, list):
        for i, value in enumerate(node):
            yield from _walk(value, f"{path}/{i}")


def test_the_document_is_valid_openapi_3(api: Api) -> None:
    doc = _doc(api)
    errors = [
        f"{'/'.join(map(str, e.absolute_path))}: {e.message[:200]}"
        for e in OpenAPIV30SpecValidator(doc).iter_errors()
    ]
    assert not errors, errors


def test_every_numeric_bound_and_default_is_a_number(api: Api) -> None:
    wrong = [
        (path, key, node[key])
        for path, node in _walk(_doc(api))
        for key in ("minimum", "maximum", "multipleOf")
        if key in node and (not isinstance(node[key], int | float) or isinstance(node[key], bool))
    ]
    assert not wrong, wrong


def test_money_fields_document_their_exclusive_maximum(api: Api) -> None:
    schemas = _doc(api)["components"]["schemas"]
    for name in ("ClientCreate", "ClientPatch"):
        for field in ("credit_limit", "registered_capital"):
            prop = schemas[name]["properties"][field]
            assert prop["type"] == "number" and prop["minimum"] == 0, (name, field, prop)
            assert prop["maximum"] == 10**17 and prop.get("exclusiveMaximum") is True, (
                name,
                field,
                prop,
            )


def test_every_json_body_refuses_unknown_fields_and_says_so(api: Api) -> None:
    doc = _doc(api)
    bodies = {
        f"{method.upper()} {path}": _resolve(
            doc, op["requestBody"]["content"]["application/json"]["schema"]
        )
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method != "parameters"
        and "application/json" in op.get("requestBody", {}).get("content", {})
    }
    assert len(bodies) >= 9
    open_bodies = [
        label for label, schema in bodies.items() if schema.get("additionalProperties") is not False
    ]
    assert not open_bodies, open_bodies


def test_the_action_body_lists_every_payload_field_a_definition_declares(api: Api) -> None:
    doc = _doc(api)
    body = doc["components"]["schemas"]["ActionBody"]
    assert body["additionalProperties"] is False
    props = body["properties"]
    assert {"comment", "expected_version"} <= set(props)
    assert props["amount"]["type"] == "integer"  # tests/fixtures: test_approval's approve
    assert props["assessment"]["type"] == "string"  # definitions/alert_remediation.yaml
    r = api.post("risk1", "/api/v1/workflows/1/actions/approve", json={"colour": "red"})
    assert r.status_code in (404, 422), r.get_json()  # an undeclared field is never accepted


def test_change_requests_document_that_changes_must_name_a_sensitive_field_or_screened_input(
    api: Api,
) -> None:
    doc = _doc(api)
    changes = doc["components"]["schemas"]["ChangeRequestBody"]["properties"]["changes"]
    assert changes.get("minProperties") == 1, changes
    described = _resolve(doc, changes["allOf"][0]) if "allOf" in changes else changes
    assert described.get("additionalProperties") is False, described
    assert set(described["properties"]) == {
        "credit_limit",
        "bank_account",
        "legal_representative",
        "blacklisted",
        "rating",
        "risk_level",
        # screened inputs, fixed after the first screening
        "facts",
        "ownership_type",
        "state_ownership_pct",
        "established_on",
        "registered_capital",
    }, described


def test_text_says_which_characters_it_refuses_in_patterns_every_validator_reads(api: Api) -> None:
    import jsonschema_rs  # schemathesis's validator (Rust regex: stricter than Python's re)

    doc = _doc(api)
    patterns = {node["pattern"] for _, node in _walk(doc) if isinstance(node.get("pattern"), str)}
    for pattern in patterns:
        jsonschema_rs.validator_for({"type": "string", "pattern": pattern})  # raises if unreadable
    name = doc["components"]["schemas"]["ClientCreate"]["properties"]["name"]
    one_line = jsonschema_rs.validator_for(name)
    assert one_line.is_valid("上海某某 Ltd.") and not one_line.is_valid("a\u202eb")
    assert not one_line.is_valid("a\x00b") and not one_line.is_valid("a\nb")
    comment = jsonschema_rs.validator_for(
        doc["components"]["schemas"]["ActionBody"]["properties"]["comment"]
    )
    assert comment.is_valid("line one\nline two") and not comment.is_valid("a\x07b")
    query = {p["name"]: p["schema"] for p in doc["paths"]["/api/v1/clients"]["get"]["parameters"]}
    assert not jsonschema_rs.validator_for(query["q"]).is_valid("a\x1bb")


def test_the_problem_document_names_its_machine_code_member(api: Api) -> None:
    # issue 18: config.hash_mismatch and config.stale_draft reach API clients as `code`
    doc = _doc(api)
    code = doc["components"]["schemas"]["Problem"]["properties"]["code"]
    assert code["type"] == "string"
    assert "config.hash_mismatch" in code["description"]
    assert "config.stale_draft" in code["description"]
