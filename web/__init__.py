"""The web console (server-rendered pages); it calls the same services as the API."""

from __future__ import annotations

import importlib
from typing import Any

from flask import Flask

PAGES = (
    "auth",
    "inbox",
    "cases",
    "case_list",
    "clients",
    "client_edit",
    "change_requests",
    "alerts",
    "dashboard",
    "audit",
    "audit_records",
    "notifications",
)


def register(app: Flask, api: Any) -> None:
    """Mount the console at ``/``: language, session, CSRF, pages and error pages."""
    from . import display, errors, i18n
    from .console import ConsoleSessionInterface, blp

    for page in PAGES:  # importing a page module adds its routes to the blueprint
        importlib.import_module(f"{__name__}.pages.{page}")

    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # bound to the session, which expires
    app.session_interface = ConsoleSessionInterface()
    i18n.install(app)
    display.install(app)
    app.register_blueprint(blp)
    errors.install(app)
