"""Every form the console accepts refuses a post without its CSRF token, and changes
nothing: checked over the app's own URL map, so a new form cannot escape."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from sqlalchemy import func, select

from api.extensions import db
from workflow.records.models import AuditRecord, OutboxMessage, WorkflowInstance

# Filled into every URL variable: an id of a record that need not exist (the CSRF check
# comes before anything is looked up).
_VALUE = {"int": "1", "string": "x", "default": "x", "path": "x"}


@pytest.fixture
def app(module_app: Flask) -> Flask:
    """One app for the module: every post is refused and each test proves it changed nothing."""
    return module_app


def _console_posts(app: Flask) -> list[str]:
    paths = []
    for rule in app.url_map.iter_rules():
        if "POST" not in (rule.methods or set()) or not rule.endpoint.startswith("console."):
            continue
        path = re.sub(
            r"<(?:(\w+)(?:\([^)]*\))?:)?\w+>",
            lambda m: _VALUE.get(m.group(1) or "default", "x"),
            rule.rule,
        )
        paths.append(path)
    return sorted(paths)


def _counts(app: Flask) -> tuple[int, int, int]:
    with app.app_context():
        return tuple(
            db.session.scalar(select(func.count()).select_from(table))  # type: ignore[return-value]
            for table in (AuditRecord, OutboxMessage, WorkflowInstance)
        )


@pytest.mark.parametrize("username", ["sales1", "risk1", "auditor1"])
def test_every_console_form_refuses_a_post_without_its_csrf_token(
    console_factory, app: Flask, username: str
) -> None:
    posts = _console_posts(app)
    assert "/login" in posts and "/logout" in posts and len(posts) >= 10, posts
    console = console_factory(username)
    before = _counts(app)
    for path in posts:
        response = console.post(path, {"comment": "no token"}, csrf=False)
        assert response.status_code == 400, (path, response.status_code)
        assert "表单安全令牌" in response.get_data(as_text=True), (
            path
        )  # the CSRF page, not another 400
    assert _counts(app) == before
    assert console.get("/inbox").status_code == 200  # still signed in: logout refused too


def test_every_console_form_sends_a_signed_out_visitor_to_sign_in(
    console_factory, app: Flask
) -> None:
    console = console_factory(None)
    open_to_all = {"/login", "/language"}
    before = _counts(app)
    for path in _console_posts(app):
        if path in open_to_all:
            continue
        response = console.post(path, {"comment": "signed out"}, token_from="/login")
        assert response.status_code == 302 and "/login" in response.headers["Location"], path
    assert _counts(app) == before
