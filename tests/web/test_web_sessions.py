"""Console sessions: the sign-in rate limit and its source address, server-side revocation
(sign-out, deactivation, a change of roles), no API token minted, a cookie that lives
as long as the session, no caching of pages, and `OPTIONS` without a sign-in."""

from __future__ import annotations

from datetime import datetime, timedelta
from email.utils import parsedate_to_datetime

import pytest
from flask import Flask
from sqlalchemy import func, select

from api.extensions import db
from tests.support.app import make_app
from tests.support.console import Console
from workflow.accounts import users as accounts
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, Token

ADMIN = Actor.system("test")


@pytest.fixture
def limited_app(db_url, tmp_path, monkeypatch) -> Flask:  # noqa: ANN001
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    return make_app(db_url, tmp_path, RISKLOOP_LOGIN_RATE_LIMIT="5 per minute")


def test_console_sign_in_is_rate_limited_per_address_with_a_console_page(limited_app) -> None:
    console = Console(limited_app.test_client())
    for _ in range(5):
        assert console.login("sales1", "wrong-guess").status_code == 401
    limited = console.login("sales1")  # the right password changes nothing
    assert limited.status_code == 429 and limited.mimetype == "text/html"
    assert int(limited.headers["Retry-After"]) > 0
    page = limited.get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "登录尝试过多" in page and 'data-status="429"' in page
    assert console.get("/inbox").status_code == 302  # not signed in
    other = Console(limited_app.test_client())
    other.client.environ_base["REMOTE_ADDR"] = "198.51.100.7"
    assert other.login("sales1").status_code == 302  # another address is not affected


def test_the_429_page_follows_the_chosen_language(limited_app) -> None:
    console = Console(limited_app.test_client())
    console.client.post(
        "/language", data={"lang": "en", "next": "/login", "csrf_token": console.csrf()}
    )
    for _ in range(5):
        console.login("sales1", "wrong-guess")
    page = console.login("sales1").get_data(as_text=True)
    assert '<html lang="en">' in page and "Too many sign-in attempts" in page


def test_console_and_api_sign_ins_share_one_budget_per_address(limited_app) -> None:
    client = limited_app.test_client()
    for _ in range(3):
        assert (
            client.post(
                "/api/v1/auth/token", json={"username": "sales1", "password": "x-wrong-x"}
            ).status_code
            == 401
        )
    console = Console(client)
    assert console.login("sales1", "wrong-guess").status_code == 401
    assert console.login("sales1", "wrong-guess").status_code == 401
    assert console.login("sales1").status_code == 429


def test_console_sign_ins_record_the_callers_address(console_factory, app: Flask) -> None:
    console = console_factory()
    console.client.environ_base["REMOTE_ADDR"] = "203.0.113.5"
    console.login("sales1", "wrong-guess")
    assert console.login("sales1").status_code == 302
    with app.app_context():
        records = (
            db.session.execute(
                select(AuditRecord)
                .where(AuditRecord.stream == "user:sales1")
                .order_by(AuditRecord.id)
            )
            .scalars()
            .all()
        )
    failed, succeeded = records[-2:]
    assert failed.kind == "login.failed" and failed.payload["source"] == "203.0.113.5"
    assert succeeded.kind == "login.succeeded" and succeeded.payload["source"] == "203.0.113.5"
    assert succeeded.payload["channel"] == "console"


def test_console_sign_in_mints_no_api_token(console_factory, app: Flask) -> None:
    def tokens() -> int:
        with app.app_context():
            return db.session.scalar(select(func.count()).select_from(Token))

    before = tokens()
    console_factory("risk1")
    console_factory("sales1")
    assert tokens() == before


def _replay(app: Flask, cookie: str) -> Console:
    console = Console(app.test_client())
    console.client.set_cookie("session", cookie)
    return console


def test_a_cookie_replayed_after_sign_out_is_refused(console_factory, app: Flask) -> None:
    console = console_factory("sales1")
    cookie = console.client.get_cookie("session").value
    assert _replay(app, cookie).get("/inbox").status_code == 200
    assert console.post("/logout").status_code == 302
    replayed = _replay(app, cookie).get("/inbox")
    assert replayed.status_code == 302 and replayed.headers["Location"].startswith("/login")
    with app.app_context():
        kinds = (
            db.session.execute(
                select(AuditRecord.kind)
                .where(AuditRecord.stream == "user:sales1")
                .order_by(AuditRecord.id)
            )
            .scalars()
            .all()
        )
    assert kinds[-1] == "user.signed_out"
    assert console_factory("sales1").get("/inbox").status_code == 200  # signing in again works


def test_deactivation_ends_console_sessions_for_good(console_factory, app: Flask) -> None:
    console = console_factory("sales1")
    cookie = console.client.get_cookie("session").value
    with app.app_context():
        accounts.set_active(db.session, "sales1", False, by=ADMIN)
        db.session.commit()
    assert console.get("/inbox").status_code == 302
    with app.app_context():
        accounts.set_active(db.session, "sales1", True, by=ADMIN)
        db.session.commit()
    assert _replay(app, cookie).get("/inbox").status_code == 302  # not revived by reactivation
    assert console_factory("sales1").get("/inbox").status_code == 200


def test_a_change_of_roles_ends_console_sessions(console_factory, app: Flask) -> None:
    console = console_factory("risk1")
    assert console.get("/inbox").status_code == 200
    with app.app_context():
        accounts.set_roles(db.session, "risk1", ["risk_officer", "legal"], by=ADMIN)
        db.session.commit()
    assert console.get("/inbox").status_code == 302


def _cookie_expiry(response) -> datetime:  # noqa: ANN001
    header = next(
        v for k, v in response.headers.items() if k == "Set-Cookie" and v.startswith("session=")
    )
    expires = next(
        part.split("=", 1)[1] for part in header.split("; ") if part.startswith("Expires=")
    )
    return parsedate_to_datetime(expires).replace(tzinfo=None)


def test_the_cookie_lives_exactly_as_long_as_the_session(console_factory, app: Flask) -> None:
    clock.freeze(clock.now().replace(microsecond=0))
    ttl = timedelta(hours=app.config["RISKLOOP_TOKEN_TTL_HOURS"])
    console = console_factory()
    signed_in = console.login("sales1")
    assert abs(_cookie_expiry(signed_in) - (clock.now() + ttl)) <= timedelta(seconds=1)
    clock.advance(timedelta(hours=2))  # a later change to the session does not extend it
    switched = console.post("/language", {"lang": "en", "next": "/inbox"})
    assert abs(_cookie_expiry(switched) - (clock.now() - timedelta(hours=2) + ttl)) <= timedelta(
        seconds=1
    )


def test_console_pages_are_not_stored_but_assets_may_be(console_factory) -> None:
    console = console_factory("risk1")
    for path in ("/inbox", "/cases", "/login", "/no-such-page"):
        assert console.get(path).headers.get("Cache-Control") == "no-store", path
    asset = console.get("/console-static/console.css")
    assert asset.status_code == 200 and "no-store" not in asset.headers.get("Cache-Control", "")


def test_options_on_console_pages_needs_no_sign_in_and_sets_no_cookie(console_factory) -> None:
    console = console_factory()
    inbox = console.client.options("/inbox")
    assert inbox.status_code == 204 and set(inbox.headers["Allow"].split(", ")) == {
        "GET",
        "HEAD",
        "OPTIONS",
    }
    assert "Set-Cookie" not in inbox.headers
    new = console.client.options("/clients/new")  # one URL, two views: both methods
    assert set(new.headers["Access-Control-Allow-Methods"].split(", ")) == {
        "GET",
        "HEAD",
        "OPTIONS",
        "POST",
    }
