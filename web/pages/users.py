"""User and role administration for admins: create a user, change roles, deactivate or
reactivate, reset a password — ``workflow.accounts.administration`` (the admin role checked
first, every change audited on the user's stream)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from workflow.accounts import administration as admin
from workflow.errors import Conflict, ValidationFailed
from workflow.platform.transaction import transact

from ..client_form import field_errors
from ..console import blp, current_actor
from ..database import db, runtime_of
from ..refusals import Refusal, field_messages, refusal


def _page(
    values: dict[str, Any] | None = None,
    errors: dict[str, str] | None = None,
    message: Refusal | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "users.html",
        users=admin.list_users(db.session, current_actor()),
        roles=sorted(runtime_of().catalog.policy.user_roles),
        values=values or {},
        errors=errors or {},
        message=message,
    ), status


@blp.get("/admin/users")
def users() -> tuple[str, int]:
    return _page()


@blp.post("/admin/users")
def create_user() -> Response | tuple[str, int]:
    actor = current_actor()
    admin.require_admin(actor)
    form = request.form
    username = (form.get("username") or "").strip()
    try:
        transact(
            db.session,
            lambda: admin.create(
                db.session,
                actor,
                username,
                form.get("password") or "",
                form.getlist("roles"),
                (form.get("display_name") or "").strip(),
            ),
        )
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        errors = field_errors(field_messages(exc.extra.get("errors") or {}))
        if isinstance(exc, Conflict):
            errors["username"] = str(refusal(exc))
        values = {"username": username, "display_name": form.get("display_name", "")}
        return _page(values, errors, refusal(exc), 409 if isinstance(exc, Conflict) else 422)
    flash(_("User %(name)s created.", name=username), "ok")
    return redirect(url_for("console.users"))


def _change(username: str, change: Any, done: str) -> Response | tuple[str, int]:
    admin.require_admin(current_actor())
    try:
        transact(db.session, change)
    except (ValidationFailed, Conflict) as exc:
        db.session.rollback()
        errors = field_errors(field_messages(exc.extra.get("errors") or {}))
        return _page({"for": username}, errors, refusal(exc), 422)
    flash(done, "ok")
    return redirect(url_for("console.users"))


@blp.post("/admin/users/<username>/roles")
def set_user_roles(username: str) -> Response | tuple[str, int]:
    roles = request.form.getlist("roles")
    return _change(
        username,
        lambda: admin.set_roles(db.session, current_actor(), username, roles),
        _("Roles of %(name)s changed.", name=username),
    )


@blp.post("/admin/users/<username>/active")
def set_user_active(username: str) -> Response | tuple[str, int]:
    active = request.form.get("active") == "1"
    return _change(
        username,
        lambda: admin.set_active(db.session, current_actor(), username, active),
        _("%(name)s reactivated.", name=username)
        if active
        else _("%(name)s deactivated: their tokens and sessions ended.", name=username),
    )


@blp.post("/admin/users/<username>/password")
def reset_user_password(username: str) -> Response | tuple[str, int]:
    password = request.form.get("password") or ""
    return _change(
        username,
        lambda: admin.reset_password(db.session, current_actor(), username, password),
        _("Password of %(name)s reset: their tokens and sessions ended.", name=username),
    )
