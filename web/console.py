"""The console blueprint: signed-in session, CSRF on every form, the current actor.

Console sessions keep the user id, an expiry and the user's session epoch in Flask's
signed cookie; each request re-reads the user, so a deactivated account or changed
roles apply at once, and a cookie issued under an older epoch (before a sign-out, a
deactivation or a change of roles) is refused. The cookie itself expires with the
session.
Query strings and form fields are held to ``workflow.platform.hygiene`` before any page runs, as
the API's are (``api.request_shape``).
"""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Any

from flask import (
    Blueprint,
    Flask,
    Request,
    abort,
    current_app,
    g,
    redirect,
    request,
    session,
    url_for,
)
from flask.sessions import SecureCookieSession, SecureCookieSessionInterface, SessionMixin
from flask_wtf.csrf import CSRFError, generate_csrf, validate_csrf
from werkzeug.wrappers import Response
from wtforms import ValidationError

from workflow.accounts import users as accounts
from workflow.errors import ValidationFailed
from workflow.platform import clock
from workflow.platform.hygiene import text_problem
from workflow.records.identity import Actor
from workflow.records.models import User

from .database import db
from .navigation import console_nav, role_label
from .uploads import allow_upload_bodies

blp = Blueprint(
    "console",
    __name__,
    template_folder="templates",
    static_folder="static",
    static_url_path="/console-static",
)

# Reachable without signing in.
PUBLIC_ENDPOINTS = {"console.login", "console.static", "console.set_language"}


def client_address() -> str:
    """The caller's address (behind a proxy, ProxyFix has already put the client's here);
    the same key as the sign-in rate limit's, which the composition root installs."""
    return request.remote_addr or "unknown"


def session_lifetime() -> timedelta:
    return timedelta(hours=float(current_app.config["RISKLOOP_TOKEN_TTL_HOURS"]))


def start_session(user: User, expires_at: datetime) -> None:
    session.clear()
    session["uid"] = user.id
    session["exp"] = clock.isoformat(expires_at)
    session["sep"] = user.session_epoch
    session.permanent = True


def _expiry(session: SessionMixin) -> datetime | None:
    exp = session.get("exp")
    return datetime.strptime(exp, "%Y-%m-%dT%H:%M:%S.%fZ") if exp else None


def _session_actor() -> Actor | None:
    uid, exp = session.get("uid"), _expiry(session)
    if not uid or not exp:
        return None
    if exp <= clock.now():
        session.pop("uid", None)
        return None
    user = db.session.get(User, uid)
    if user is None or not user.active or session.get("sep") != user.session_epoch:
        return None
    g.console_user = user
    return accounts.actor_of(user)


def current_actor() -> Actor:
    actor = getattr(g, "console_actor", None)
    if actor is None:
        abort(401)
    return actor


@blp.before_request
def require_sign_in() -> Response | None:
    g.console_actor = _session_actor()
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        allow_upload_bodies()
        check_csrf()
    if g.console_actor is None and request.endpoint not in PUBLIC_ENDPOINTS:
        if request.headers.get("HX-Request"):
            response = Response(status=401)
            response.headers["HX-Redirect"] = url_for("console.login")
            return response
        return redirect(url_for("console.login", next=request.full_path.rstrip("?")))
    check_text_fields()
    return None


def check_text_fields() -> None:
    """Raises:
    ValidationFailed: a query parameter (one line) or form field (tabs and line breaks
        allowed) holding a NUL, another control or a bidirectional formatting character;
        each page's own checks then word the rest beside its fields."""
    refused = {
        name: [problem]
        for name, value in request.args.items(multi=True)
        if (problem := text_problem(value)) is not None
    }
    if request.method not in ("GET", "HEAD", "OPTIONS"):
        refused.update(
            {
                name: [problem]
                for name, value in request.form.items(multi=True)
                if (problem := text_problem(value, multiline=True)) is not None
            }
        )
    if refused:  # named in the detail: the page showing it has no fields to put them beside
        raise ValidationFailed(
            "; ".join(f"{name}: {messages[0]}" for name, messages in sorted(refused.items()))
        )


def check_csrf() -> None:
    token = request.form.get("csrf_token") or request.headers.get("X-CSRFToken", "")
    try:
        validate_csrf(token)
    except ValidationError as exc:
        raise CSRFError(str(exc)) from exc


@blp.app_context_processor
def inject_console() -> dict[str, Any]:
    return {
        "csrf_token": generate_csrf,
        "console_actor": getattr(g, "console_actor", None),
        "console_nav": console_nav,
        "role_label": role_label,
        "has_page": lambda endpoint: endpoint in current_app.view_functions,
    }


class ConsoleSessionInterface(SecureCookieSessionInterface):
    """The signed-in cookie expires when its session does (not after Flask's default
    31 days, nor later each time the session changes)."""

    def open_session(self, app: Flask, request: Request) -> SecureCookieSession | None:
        # No cookie at all (every API call with a bearer token): the new empty session
        # Flask would give, without parsing cookies or building its signing serializer
        # (~3 % of an approve).
        if app.secret_key and not request.environ.get("HTTP_COOKIE"):
            return self.session_class()
        return super().open_session(app, request)

    def get_expiration_time(self, app: Flask, session: SessionMixin) -> datetime | None:
        expires = _expiry(session) if session.permanent else None
        if expires is None:
            return super().get_expiration_time(app, session)
        return expires.replace(tzinfo=UTC)
