"""User administration in the console: an admin creates a user, changes their roles,
resets their password and deactivates them, each audited without the password; a weak
password or a taken name is refused naming the field; nobody else may."""

from __future__ import annotations

import json

from flask import Flask
from sqlalchemy import select

from api.extensions import db
from workflow.accounts.users import user_stream
from workflow.records.models import AuditRecord

STRONG = "quiet-harbour-lantern-42"
NEWER = "amber-violin-meadow-77"


def trail(app: Flask, username: str) -> list[AuditRecord]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditRecord)
            .where(AuditRecord.stream == user_stream(username))
            .order_by(AuditRecord.id)
        ).scalars()
        return [db.session.merge(r, load=False) for r in rows]


def test_an_admin_creates_changes_resets_and_deactivates_a_user(
    app: Flask, console_factory
) -> None:
    admin = console_factory("admin")
    page = admin.get("/admin/users").get_data(as_text=True)
    assert 'href="/admin/users"' in page and "用户管理" in page and 'data-user="risk1"' in page
    weak = admin.post(
        "/admin/users",
        {"username": "sales3", "password": "123", "roles": ["sales"]},
        token_from="/admin/users",
    )
    assert weak.status_code == 422
    new_form = weak.get_data(as_text=True).split("data-new-user")[1]
    assert 'class="err"' in new_form.split('name="password"')[1].split("</label>")[0]
    taken = admin.post(
        "/admin/users",
        {"username": "sales1", "password": STRONG, "roles": ["sales"]},
        token_from="/admin/users",
    )
    assert taken.status_code == 409
    made = admin.post(
        "/admin/users",
        {"username": "sales3", "password": STRONG, "roles": ["sales"], "display_name": "王三"},
        token_from="/admin/users",
    )
    assert made.status_code == 302

    sales3 = console_factory()
    assert sales3.login("sales3", STRONG).status_code == 302
    assert sales3.get("/inbox").status_code == 200
    admin.post(
        "/admin/users/sales3/roles", {"roles": ["sales", "legal"]}, token_from="/admin/users"
    )
    assert sales3.get("/inbox").status_code == 302  # roles changed: signed out
    admin.post("/admin/users/sales3/password", {"password": NEWER}, token_from="/admin/users")
    assert console_factory().login("sales3", STRONG).status_code != 302
    assert console_factory().login("sales3", NEWER).status_code == 302
    admin.post("/admin/users/sales3/active", {"active": "0"}, token_from="/admin/users")
    assert console_factory().login("sales3", NEWER).status_code != 302
    myself = admin.post("/admin/users/admin/active", {"active": "0"}, token_from="/admin/users")
    assert myself.status_code == 422

    records = trail(app, "sales3")
    assert [r.kind for r in records if r.actor == "admin"] == [
        "user.created",
        "user.roles_changed",
        "user.password_reset",
        "user.deactivated",
    ]
    stored = json.dumps([r.payload for r in records])
    assert STRONG not in stored and NEWER not in stored and "argon2" not in stored


def test_only_an_admin_administers_users(app: Flask, console_factory) -> None:
    manager = console_factory("manager1")
    assert manager.get("/admin/users").status_code == 403
    assert 'href="/admin/users"' not in manager.get("/inbox").get_data(as_text=True)
    refused = manager.post(
        "/admin/users",
        {"username": "x1", "password": STRONG, "roles": ["sales"]},
        token_from="/inbox",
    )
    assert refused.status_code == 403
    assert (
        manager.post("/admin/users/sales1/active", {"active": "0"}, token_from="/inbox").status_code
        == 403
    )
