"""Document error responses as ``application/problem+json``, the type they are served with.

flask-smorest describes every error response as ``application/json``; the API
answers errors with RFC 9457 problem documents (``api.problems``), so clients
(and schemathesis) saw an undocumented content type on every 4xx/5xx.
"""

from __future__ import annotations

import http
from typing import Any

import marshmallow as ma
from apispec import BasePlugin

PROBLEM = "application/problem+json"
_ERROR_PHRASES = {s.phrase for s in http.HTTPStatus if s >= 400} | {"Default error response"}


def _as_problem(response: dict[str, Any]) -> dict[str, Any]:
    content = response.get("content")
    if isinstance(content, dict) and "application/json" in content:
        response = {**response, "content": {PROBLEM: content["application/json"]}}
    return response


class ProblemJsonPlugin(BasePlugin):
    def response_helper(self, response: dict[str, Any], **kwargs: Any) -> dict[str, Any]:
        if response.get("description") in _ERROR_PHRASES:
            return _as_problem(response)
        return response

    def operation_helper(
        self, path: str | None = None, operations: dict[str, Any] | None = None, **kwargs: Any
    ) -> None:
        for operation in (operations or {}).values():
            if isinstance(operation, dict):
                _document_request_checks(operation)
            responses = operation.get("responses", {}) if isinstance(operation, dict) else {}
            for code, response in list(responses.items()):
                if (str(code) == "default" or str(code) >= "400") and isinstance(response, dict):
                    responses[code] = _as_problem(response)


def _document_request_checks(operation: dict[str, Any]) -> None:
    """The 400 and 415 that ``api.request_shape`` answers before any operation's view."""
    responses = operation.setdefault("responses", {})
    problem = {PROBLEM: {"schema": {"$ref": "#/components/schemas/Problem"}}}
    responses.setdefault(
        "400",
        {
            "description": "Unknown query parameter, or a body that is not valid JSON",
            "content": problem,
        },
    )
    if "application/json" in operation.get("requestBody", {}).get("content", {}):
        responses.setdefault(
            "415", {"description": "The body is not sent as application/json", "content": problem}
        )


class ProblemSchema(ma.Schema):
    """An RFC 9457 problem document as ``api.problems`` writes it (extra members allowed)."""

    class Meta:
        unknown = ma.INCLUDE

    type = ma.fields.String(metadata={"description": "URI naming the kind of problem"})
    title = ma.fields.String()
    status = ma.fields.Integer()
    detail = ma.fields.String()
    errors = ma.fields.Dict(metadata={"description": "per-field messages"})
    request_id = ma.fields.String()
    code = ma.fields.String(
        metadata={
            "description": "the machine code of a coded refusal, stable across languages "
            "(e.g. config.hash_mismatch, config.stale_draft); absent when the refusal has none"
        }
    )
    rule = ma.fields.String(
        metadata={"description": "the segregation-of-duties or role rule that refused"}
    )
