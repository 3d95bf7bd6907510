"""Driving Debian's headless Chromium against a live server: one signed-in browser context per
person, background work settled as a worker would."""

from __future__ import annotations

import os
import re
import shutil
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from api.extensions import db
from tests.support.app import PASSWORD, drain
from workflow.engine import firing as engine
from workflow.records.identity import Actor

CHROMIUM = "/usr/bin/chromium"
ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--no-first-run",
]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def require_chromium() -> None:
    if shutil.which(CHROMIUM) is None:
        if os.environ.get("CI") == "true":
            pytest.fail(f"{CHROMIUM} is missing; .ci/run installs Debian's chromium")
        pytest.skip(f"{CHROMIUM} is not installed (apt-get install chromium)")


@dataclass
class Live:
    app: Flask
    url: str

    def drain(self) -> int:
        return drain(self.app)


class User:
    """One person's browser context, signed in through the login form."""

    def __init__(self, browser: object, live: Live, username: str, lang: str | None = None) -> None:
        self.live = live
        self.context = browser.new_context(
            viewport={"width": 1360, "height": 900},  # type: ignore[attr-defined]
            locale="zh-CN",
        )
        self.page = self.context.new_page()
        self.page.set_default_timeout(30000)  # CI machines are shared and often busy
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on(
            "console",
            lambda msg: (
                msg.type == "error"
                and self.errors.append(
                    f"{msg.text} at {msg.location.get('url')}:{msg.location.get('lineNumber')} on {self.page.url}"
                )
            ),
        )
        self.requests: list[str] = []
        self.page.on("request", lambda req: self.requests.append(req.url))
        self.goto("/login")
        if lang == "en":
            self.page.click("form.lang button[value=en]")
            # The switch is a boosted form: wait for the English page before filling in the
            # login form, or the swap replaces the form being filled.
            self.page.wait_for_selector("form.lang button[value=en].on")
        self.page.fill("input[name=username]", username)
        self.page.fill("input[name=password]", PASSWORD)
        self.page.click("form.login button[type=submit]")
        self.page.wait_for_url(re.compile(r".*/inbox.*"))

    def goto(self, path: str) -> None:
        self.page.goto(self.live.url + path)

    def shot(self, name: str) -> Path:
        ARTIFACTS.mkdir(parents=True, exist_ok=True)
        path = ARTIFACTS / f"{name}.png"
        self.page.screenshot(path=str(path), full_page=True)
        return path

    def only_local_requests(self) -> bool:
        return all(url.startswith((self.live.url, "data:", "blob:")) for url in self.requests)

    def close(self) -> None:
        self.context.close()


def settle(live: Live) -> None:
    """Run background work until none is left, as a worker would."""
    for _ in range(10):
        if live.drain() == 0:
            return


def active_client(live: Live, name: str, credit_code: str, owner: str = "sales1") -> int:
    """A client admitted through the real services (submitted by its owner, approved by risk2)."""
    from api.extensions import db
    from workflow.engine import firing as engine
    from workflow.records.identity import Actor
    from workflow.risk import onboarding
    from workflow.risk.clients import service as client_service

    sales = Actor(owner, frozenset({"sales"}))
    with live.app.app_context():
        client = client_service.create_client(
            db.session,
            {
                "name": name,
                "credit_code": credit_code,
                "bank_account": "6222020000111122223",
                "registered_capital": "30000000",
                "facts": {
                    "litigation_count": 0,
                    "negative_news_count": 0,
                    "payment_history": "good",
                },
            },
            sales,
        )
        case = onboarding.start_admission(db.session, client.id, sales)
        db.session.commit()
        client_id, case_id = client.id, case.id
    settle(live)
    with live.app.app_context():
        engine.fire(db.session, case_id, "approve", Actor("risk2", frozenset({"risk_officer"})))
        db.session.commit()
    settle(live)
    return client_id


def submitted_case(live) -> int:  # noqa: ANN001
    with live.app.app_context():
        sales = Actor("sales1", frozenset({"sales"}))
        instance = engine.start(
            db.session,
            "test_approval",
            sales,
            subject_type="client",
            data={"title": "浙江某某科技有限公司"},
        )
        db.session.flush()
        engine.fire(db.session, instance.id, "submit", sales)
        db.session.commit()
        return instance.id
