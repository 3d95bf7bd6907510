"""The web console (server-rendered pages); it calls the same services as the API."""

from __future__ import annotations

from typing import Any

from flask import Flask


def register(app: Flask, api: Any) -> None:
    """Mount the console at ``/``: language, session, CSRF, pages and error pages."""
    from . import errors, i18n
    from .console import blp
    from .pages import audit, auth, case_list, cases, change_requests, clients, inbox  # noqa: F401

    app.config.setdefault("SESSION_COOKIE_SAMESITE", "Lax")
    app.config.setdefault("SESSION_COOKIE_HTTPONLY", True)
    app.config.setdefault("WTF_CSRF_TIME_LIMIT", None)  # bound to the session, which expires
    i18n.install(app)
    app.register_blueprint(blp)
    errors.install(app)
