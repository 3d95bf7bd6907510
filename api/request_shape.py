"""What a request to a documented operation may carry, checked before its view runs:

- only the query parameters the operation documents (any other → 400 ``bad-query``
  naming each; an operation that documents none takes none), so a misspelt filter is
  never silently ignored and the list answers everything;
- a body sent to an operation that reads JSON must be JSON (form-encoded, text or
  unlabelled → 415 ``unsupported-media-type``); multipart operations are untouched;
- no value anywhere in that JSON, and no query parameter, holds what no field may store
  (``workflow.platform.hygiene``: lone UTF-16 surrogates, NUL and other control characters,
  bidirectional overrides, integers of more than 64 digits, NaN or infinities) → 422
  ``validation`` naming each path. Checked here, once, before any view (and before the
  schemas, whose JSON parser would raise on a 4,400-digit integer or pass a surrogate on),
  so no operation can forget it.

Values are the schemas' business: a parameter or field that is present but invalid
is a 422 ``validation`` with per-field ``errors`` (``api.problems``).

The body is parsed once: what the check parsed is what the operation's schema loads
(:class:`Blueprint`'s parser) and what :func:`checked_body` gives a view's checks.
"""

from __future__ import annotations

from functools import cache
from typing import Any

from flask import Flask, Request, current_app
from flask_smorest import Blueprint as DocumentedBlueprint
from webargs.flaskparser import FlaskParser

from workflow.errors import BadQuery, UnsupportedMediaType, ValidationFailed
from workflow.platform.hygiene import load_json, text_problem

from .contexts import this_app, this_request


@cache
def _accepts(view_class: Any, endpoint: str, method: str) -> tuple[frozenset[str], bool]:
    """(query parameter names, reads a JSON body) of one operation, from its documentation."""
    func = getattr(view_class, method, None) if view_class is not None else None
    if func is None:
        func = current_app.view_functions[endpoint]
    names: set[str] = set()
    reads_json = False
    for parameter in getattr(func, "_apidoc", {}).get("arguments", {}).get("parameters", []):
        if parameter.get("in") == "query":
            schema = parameter["schema"]
            schema = schema() if isinstance(schema, type) else schema
            names.update(f.data_key or name for name, f in schema.fields.items() if not f.dump_only)
        elif parameter.get("in") == "json":
            reads_json = True
    return frozenset(names), reads_json


def check_request() -> None:
    """Raises:
    BadQuery: a query parameter the operation does not document.
    UnsupportedMediaType: a non-JSON body for an operation that reads JSON.
    ValidationFailed: a query parameter or JSON value that may not be stored."""
    req = this_request()
    rule = req.url_rule
    if rule is None or req.method == "OPTIONS":
        return
    endpoint = rule.endpoint
    app = this_app()
    view = app.view_functions.get(endpoint)
    method = "get" if req.method == "HEAD" else req.method.lower()
    allowed, reads_json = _accepts(getattr(view, "view_class", None), endpoint, method)
    if req.query_string:
        _check_query(req, allowed)
    if reads_json and _has_body(req):
        if not req.is_json:
            sent = req.mimetype or "no Content-Type"
            raise UnsupportedMediaType(
                f"the body must be JSON, sent as 'Content-Type: application/json' (got {sent})"
            )
        _check_json_body(req)


def _check_query(req: Request, allowed: frozenset[str]) -> None:
    unknown = sorted(set(req.args) - allowed)
    if unknown:
        named = [name[:64] for name in unknown[:10]]  # echo a bounded amount of the request
        takes = f"it takes {', '.join(sorted(allowed))}" if allowed else "it takes none"
        raise BadQuery(
            f"unknown query parameter{'s' if len(unknown) > 1 else ''} "
            f"{', '.join(named)}{' …' if len(unknown) > 10 else ''}; {takes}",
            errors={name: ["Unknown query parameter."] for name in named},
        )
    refused = {
        name: [problem]
        for name, value in req.args.items(multi=True)
        if (problem := text_problem(value)) is not None
    }
    if refused:
        raise ValidationFailed(
            "some query parameters hold characters that are not allowed: "
            + ", ".join(sorted(refused)),
            errors=refused,
        )


# request.environ (per request; g may outlive one): the JSON body as the hygiene check parsed it
_CHECKED = "riskloop.checked_body"
_UNPARSED = object()


def _parse_body(req: Request) -> Any:
    body = load_json(req.get_data(cache=True))
    req.environ[_CHECKED] = body
    return body


def _check_json_body(req: Request) -> None:
    if req.environ.get(_CHECKED, _UNPARSED) is not _UNPARSED:
        return  # parsed already (checked_body): it passed the check
    try:
        _parse_body(req)
    except ValueError:
        return  # not JSON at all: the operation's parser answers 400 malformed-json


def checked_body() -> Any:
    """The request's JSON body, parsed once per request (the hygiene check's parser, which
    reads what ``json.loads`` reads and refuses more); None when there is no JSON body or
    it is not one :func:`check_request` lets through — it answers for those later, so a
    check that runs before it (authorisation) may read the body without answering first."""
    req = this_request()
    body = req.environ.get(_CHECKED, _UNPARSED)
    if body is not _UNPARSED:
        return body
    if not req.is_json:
        return None
    try:
        return _parse_body(req)
    except (ValueError, ValidationFailed):
        return None


class CheckedBodyParser(FlaskParser):
    """webargs' parser, loading the JSON body parsed for :func:`check_request` (the same
    document: the hygiene check's parser reads as ``json.loads`` does, refusing more)."""

    def _raw_load_json(self, req: Any) -> Any:
        body = this_request().environ.get(_CHECKED, _UNPARSED)  # webargs passes the proxy
        return super()._raw_load_json(req) if body is _UNPARSED else body


class Blueprint(DocumentedBlueprint):
    """The API's blueprints: flask-smorest's, whose operations load the checked body."""

    ARGUMENTS_PARSER = CheckedBodyParser()


def _has_body(req: Request) -> bool:
    return (
        bool(req.content_length)
        or req.headers.get("Transfer-Encoding", "") == "chunked"
        or bool(req.mimetype)
    )


def install(app: Flask) -> None:
    """Run :func:`check_request` on every operation of the API's blueprints, after the
    blueprint's own hooks (authentication answers first: 401 before 400)."""
    for name, blueprint in app.blueprints.items():
        if isinstance(blueprint, DocumentedBlueprint):
            app.before_request_funcs.setdefault(name, []).append(check_request)
