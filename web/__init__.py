"""The web console (server-rendered pages); it calls the same services as the API."""

from __future__ import annotations

import importlib
from collections.abc import Callable

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.wrappers import Response

PAGES = (
    "auth",
    "inbox",
    "cases",
    "case_list",
    "clients",
    "client_edit",
    "contracts",
    "client_reviews",
    "users",
    "client_import",
    "change_requests",
    "alerts",
    "dashboard",
    "audit",
    "audit_records",
    "audit_reads",
    "notifications",
    "configuration",
    "watchlists",
)


def register(app: Flask, *, api_error: Callable[[HTTPException], Response]) -> None:
    """Mount the console at ``/``: language, session, CSRF, pages and error pages.

    The console imports nothing from ``api``: the composition root calls this and passes
    ``api_error``, how the app answers an unmatched API URL (a problem document).
    """
    from . import display, errors, i18n, texts
    from .console import ConsoleSessionInterface, blp

    for page in PAGES:  # importing a page module adds its routes to the blueprint
        importlib.import_module(f"{__name__}.pages.{page}")

    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # bound to the session, which expires
    app.session_interface = ConsoleSessionInterface()
    i18n.install(app)
    # The texts the system writes, worded by web/texts.py (which builds on i18n).
    app.jinja_env.globals["comment_text"] = texts.comment_text
    display.install(app)
    app.register_blueprint(blp)
    errors.install(app, api_error)
