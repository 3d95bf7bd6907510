"""Friendly error pages for the console; the API keeps its problem documents."""

from __future__ import annotations

import logging
from collections.abc import Callable

from flask import Flask, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_wtf.csrf import CSRFError
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

from workflow.errors import AuthenticationFailed, RiskloopError

from .console import blp
from .refusals import Refusal, refusal

log = logging.getLogger(__name__)


def _titles() -> dict[int, str]:
    return {
        400: _("The form has expired"),
        401: _("Please sign in"),
        403: _("You may not do this"),
        404: _("Not found"),
        409: _("Someone acted first"),
        413: _("The upload is too large"),
        422: _("Some input is invalid"),
        429: _("Too many sign-in attempts"),
        500: _("Something went wrong"),
        503: _("The service is busy"),
    }


def _hints() -> dict[int, str]:
    return {
        400: _("Reload the page and submit the form again."),
        403: _("Your role does not allow this action, or a four-eyes rule stops you."),
        404: _("The page or record does not exist, or you cannot see it."),
        409: _("The case changed after you opened it. Reload to see its current state."),
        413: _("Go back and send smaller files, or fewer at a time."),
        429: _(
            "Too many sign-in attempts came from your address. Wait a minute, then sign in again."
        ),
        500: _("The request id below identifies the problem in the logs."),
        503: _("Try again in a moment."),
    }


def error_page(status: int, detail: str | Refusal | None = None) -> Response:
    template = "_error_fragment.html" if request.headers.get("HX-Request") else "error.html"
    body = render_template(
        template,
        status=status,
        title=_titles().get(status, _("Error")),
        hint=_hints().get(status, ""),
        detail=detail,
    )
    return Response(body, status=status, mimetype="text/html")


def _wants_problem() -> bool:
    return request.path.startswith("/api/") or not request.accept_mimetypes.accept_html


@blp.errorhandler(CSRFError)
def csrf_failed(exc: CSRFError) -> Response:
    return error_page(400, _("The security token of the form is missing or expired."))


@blp.errorhandler(AuthenticationFailed)
def signed_out(exc: AuthenticationFailed) -> Response:
    return redirect(url_for("console.login"))  # type: ignore[return-value]


@blp.errorhandler(RiskloopError)
def domain_error(exc: RiskloopError) -> Response:
    return error_page(exc.status, refusal(exc))


@blp.errorhandler(HTTPException)
def http_error(exc: HTTPException) -> Response:
    if exc.code == 401:
        return redirect(url_for("console.login"))  # type: ignore[return-value]
    return error_page(exc.code or 500)


@blp.errorhandler(Exception)
def unexpected(exc: Exception) -> Response:
    log.exception("console error on %s %s", request.method, request.path)
    return error_page(500)


def install(app: Flask, api_error: Callable[[HTTPException], Response]) -> None:
    """Unmatched console URLs get the console's 404 page, API URLs ``api_error``'s answer
    (the host app's problem document: the console does not know its format)."""

    @app.errorhandler(404)
    def not_found(exc: HTTPException) -> Response:
        if _wants_problem():
            return api_error(exc)
        return error_page(404)
