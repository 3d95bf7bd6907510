"""Sign in, sign out and the language switch."""

from __future__ import annotations

from urllib.parse import urlsplit

from flask import g, redirect, render_template, request, session, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from workflow.accounts import users as accounts
from workflow.errors import AuthenticationFailed

from ..console import blp, client_address, session_lifetime, start_session
from ..database import db
from ..i18n import LANGUAGES

# A user's stored language (``zh-CN``/``en``) as the console's locale.
CONSOLE_LOCALES = {"zh-CN": "zh_CN", "en": "en"}


def _safe_next(target: str | None) -> str:
    """Only a local path: an open redirect would turn the login page into a phishing aid."""
    if (
        target
        and target.startswith("/")
        and not target.startswith("//")
        and not urlsplit(target).netloc
    ):
        return target
    return url_for("console.inbox")


@blp.route("/login", methods=["GET", "POST"])
def login() -> str | Response:
    error = None
    username = ""
    if request.method == "POST":
        username = request.form.get("username", "").strip()[:64]
        password = request.form.get("password", "")
        try:
            signed_in = accounts.sign_in(
                db.session, username, password, ttl=session_lifetime(), source=client_address()
            )
        except AuthenticationFailed as exc:
            db.session.commit()  # keep the failed-login audit record and the lockout counter
            error = (
                _("Wrong username or password.")
                if exc.extra.get("retry_after") is None
                else _("Too many failed attempts; the account is locked for a while.")
            )
        else:
            db.session.commit()
            # the language picked before signing in, else the one the user chose last time
            lang = session.get("lang") or CONSOLE_LOCALES.get(signed_in.user.language or "")
            start_session(signed_in.user, signed_in.expires_at)
            if lang:
                session["lang"] = lang
            return redirect(_safe_next(request.args.get("next")))
    status = 401 if error else 200
    return render_template("login.html", error=error, username=username), status


@blp.post("/logout")
def logout() -> Response:
    user = g.get("console_user")
    if user is not None:  # ends this and every other console session of the user
        accounts.sign_out(db.session, user)
        db.session.commit()
    lang = session.get("lang")
    session.clear()
    if lang:
        session["lang"] = lang
    return redirect(url_for("console.login"))


@blp.post("/language")
def set_language() -> Response:
    lang = request.form.get("lang", "")
    if lang in LANGUAGES:
        session["lang"] = lang
        user = g.get("console_user")
        if user is not None:  # remembered: mail and the digest are worded in it
            accounts.set_language(db.session, user, "en" if lang == "en" else "zh-CN")
            db.session.commit()
    return redirect(_safe_next(request.form.get("next")))


@blp.get("/")
def home() -> Response:
    return redirect(url_for("console.inbox"))
