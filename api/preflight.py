"""``OPTIONS`` answered before any sign-in check: the methods a URL takes, nothing more.

A browser's CORS preflight (and any client asking what a URL allows) gets a 204 with
``Allow`` and ``Access-Control-Allow-Methods``, not a 401 or a redirect to the sign-in
page. Nothing else is granted: no ``Access-Control-Allow-Origin`` or
``-Credentials``, so other origins still cannot call the API from a browser, and the
answer reads no session and sets no cookie.
"""

from __future__ import annotations

from flask import Flask, Response

from .contexts import this_app, this_request


def answer_options() -> Response | None:
    req = this_request()
    if req.method != "OPTIONS" or req.url_rule is None:
        return None  # an unknown URL stays a 404
    adapter = this_app().url_map.bind_to_environ(req.environ)
    allowed = ", ".join(sorted(adapter.allowed_methods()))
    return Response(status=204, headers={"Allow": allowed, "Access-Control-Allow-Methods": allowed})


def install(app: Flask) -> None:
    """Run before every other hook but the request id's (app-wide hooks run before any
    blueprint's, and in the order they were added)."""
    app.before_request(answer_options)
