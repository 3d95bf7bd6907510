"""Every error becomes an RFC 9457 problem document: never HTML, never a traceback."""

from __future__ import annotations

import logging
from typing import Any

from flask import Flask, Response, g, jsonify, request
from sqlalchemy.exc import DataError, DBAPIError, OperationalError
from werkzeug.exceptions import HTTPException

from workflow.errors import RiskloopError

log = logging.getLogger(__name__)

TYPE_BASE = "https://riskloop.dev/problems/"


def problem(
    status: int,
    title: str,
    detail: str | None = None,
    *,
    slug: str | None = None,
    errors: dict[str, Any] | None = None,
    **extra: Any,
) -> Response:
    body: dict[str, Any] = {
        "type": TYPE_BASE + (slug or str(status)),
        "title": title,
        "status": status,
    }
    if detail:
        body["detail"] = detail
    if errors:
        body["errors"] = errors
    body.update({k: v for k, v in extra.items() if v is not None})
    if getattr(g, "request_id", None):
        body["request_id"] = g.request_id
    response = jsonify(body)
    response.status_code = status
    response.mimetype = "application/problem+json"
    return response


def _flatten_messages(messages: Any) -> dict[str, Any]:
    if isinstance(messages, dict):
        merged: dict[str, Any] = {}
        for location in ("json", "query", "form", "files", "headers", "view_args", "path"):
            part = messages.get(location)
            if isinstance(part, dict):
                merged.update(part)
            elif part:
                merged.setdefault("_" + location, part)
        if merged:
            return merged
        return messages
    return {"_body": messages}


def handle_http(exc: HTTPException) -> Response:
    status = exc.code or 500
    data = getattr(exc, "data", None) or {}
    errors = _flatten_messages(data["messages"]) if "messages" in data else None
    detail = exc.description if isinstance(exc.description, str) else None
    if errors and status == 400 and any("Invalid JSON" in str(v) for v in errors.values()):
        return problem(
            400, "Malformed JSON", "The request body is not valid JSON.", slug="malformed-json"
        )
    if errors and status in (400, 422):
        return problem(
            422,
            "Validation failed",
            "Some fields are invalid; see errors.",
            slug="validation",
            errors=errors,
        )
    headers = exc.get_headers() if status == 405 else None
    response = problem(status, exc.name, detail, slug=_slug(exc.name))
    if headers:
        for k, v in headers:
            if k.lower() == "allow":
                response.headers["Allow"] = v
    return response


# Members every problem document has; an error's extra member of the same name would
# clash with them (a TypeError in the handler, a 500), so it is dropped and logged.
_RESERVED = frozenset({"type", "title", "status", "detail", "instance", "slug", "request_id"})


def handle_riskloop(exc: RiskloopError) -> Response:
    extra = dict(exc.extra)
    errors = extra.pop("errors", None)
    retry_after = extra.pop("retry_after", None)
    clashing = sorted(_RESERVED & set(extra))
    if clashing:
        log.error(
            "%s raised with reserved problem members %s; dropped",
            type(exc).__name__,
            ", ".join(clashing),
        )
        extra = {k: v for k, v in extra.items() if k not in _RESERVED}
    # the machine code of a coded refusal (config.hash_mismatch, config.stale_draft, a
    # guard's reason), an RFC 9457 extension member clients can branch on
    if exc.code:
        extra["code"] = exc.code
    response = problem(exc.status, exc.title, exc.detail, slug=exc.slug, errors=errors, **extra)
    if retry_after:
        response.headers["Retry-After"] = str(retry_after)
    return response


def handle_database_down(exc: DBAPIError) -> Response:
    log.warning(
        "database unavailable on %s %s: %s", request.method, request.path, type(exc.orig).__name__
    )
    response = problem(
        503,
        "Service unavailable",
        "The database is unavailable; try again shortly.",
        slug="unavailable",
    )
    response.headers["Retry-After"] = "2"
    return response


def handle_unstorable_value(exc: DataError) -> Response:
    """A value the database refuses (a NUL character, a number out of range): the
    client's input, so a 422, never a 500."""
    from .extensions import db

    db.session.rollback()
    log.info(
        "refused unstorable value on %s %s: %s",
        request.method,
        request.path,
        type(exc.orig).__name__,
    )
    return problem(
        422,
        "Unprocessable value",
        "A value cannot be stored: text must not contain NUL characters and "
        "numbers must fit their field.",
        slug="invalid-value",
    )


def handle_unexpected(exc: Exception) -> Response:
    if isinstance(exc, HTTPException):
        return handle_http(exc)
    log.exception("unhandled error on %s %s", request.method, request.path)
    return problem(
        500,
        "Internal server error",
        "Something went wrong on our side; the request id identifies it in the logs.",
        slug="internal",
    )


def _slug(name: str) -> str:
    return name.lower().replace(" ", "-")


def install(app: Flask) -> None:
    app.register_error_handler(HTTPException, handle_http)
    app.register_error_handler(RiskloopError, handle_riskloop)
    app.register_error_handler(OperationalError, handle_database_down)
    app.register_error_handler(DataError, handle_unstorable_value)
    app.register_error_handler(Exception, handle_unexpected)
