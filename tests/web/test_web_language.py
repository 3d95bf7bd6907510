"""The language picked in the console is remembered on the user (mail and the digest are
worded in it) and comes back at the next sign-in."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from api.extensions import db
from workflow.records.models import User


def language_of(app: Flask, username: str) -> str | None:
    with app.app_context():
        return db.session.execute(
            select(User.language).where(User.username == username)
        ).scalar_one()


def test_the_language_chosen_in_the_console_is_remembered_for_mail(console_factory, app):
    assert language_of(app, "sales1") is None
    console = console_factory("sales1")

    assert console.post("/language", {"lang": "en", "next": "/"}).status_code == 302
    assert language_of(app, "sales1") == "en"
    assert console.post("/language", {"lang": "zh_CN", "next": "/"}).status_code == 302
    assert language_of(app, "sales1") == "zh-CN"


def test_the_remembered_language_comes_back_at_the_next_sign_in(console_factory, app):
    with app.app_context():
        user = db.session.execute(select(User).where(User.username == "sales1")).scalar_one()
        user.language = "en"
        db.session.commit()

    page = console_factory("sales1").get("/inbox").get_data(as_text=True)

    assert '<html lang="en">' in page
