"""A real server on 127.0.0.1 and Debian's headless Chromium driven by Playwright.

The server is the real app (waitress, as ``riskloop run`` serves it) on a temporary
SQLite database; background tasks are drained by the tests as a worker would.
"""

from __future__ import annotations

import os
import re
import shutil
import threading
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from flask import Flask

from api.extensions import runtime_of
from tests.api.conftest import PASSWORD, drain, make_app
from workflow.platform import clock

CHROMIUM = "/usr/bin/chromium"
ARGS = ["--headless", "--no-sandbox", "--disable-gpu", "--disable-background-networking",
        "--disable-component-update", "--no-first-run"]
ARTIFACTS = Path(__file__).resolve().parents[1] / "artifacts"


def _require_chromium() -> None:
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


@pytest.fixture(scope="module")
def live(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Live]:
    from waitress.server import create_server

    tmp = tmp_path_factory.mktemp("live")
    previous = os.environ.get("RISKLOOP_INSTANCE_PATH")
    os.environ["RISKLOOP_INSTANCE_PATH"] = str(tmp / "instance")
    app = make_app(f"sqlite:///{tmp / 'console.sqlite'}", tmp)
    runtime_of(app).outbox_sender = None
    server = create_server(app, host="127.0.0.1", port=0, threads=4)
    thread = threading.Thread(target=server.run, name="live-server", daemon=True)
    thread.start()
    try:
        yield Live(app=app, url=f"http://127.0.0.1:{server.effective_port}")
    finally:
        server.close()
        thread.join(timeout=5)
        clock.freeze(None)
        if previous is None:
            os.environ.pop("RISKLOOP_INSTANCE_PATH", None)
        else:
            os.environ["RISKLOOP_INSTANCE_PATH"] = previous


@pytest.fixture(scope="session")
def browser() -> Iterator[object]:
    _require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


class User:
    """One person's browser context, signed in through the login form."""

    def __init__(self, browser: object, live: Live, username: str, lang: str | None = None) -> None:
        self.live = live
        self.context = browser.new_context(viewport={"width": 1360, "height": 900},  # type: ignore[attr-defined]
                                           locale="zh-CN")
        self.page = self.context.new_page()
        self.page.set_default_timeout(30000)  # CI machines are shared and often busy
        self.errors: list[str] = []
        self.page.on("pageerror", lambda exc: self.errors.append(str(exc)))
        self.page.on("console", lambda msg: msg.type == "error" and self.errors.append(
            f"{msg.text} at {msg.location.get('url')}:{msg.location.get('lineNumber')} on {self.page.url}"))
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


@pytest.fixture
def sign_in(browser: object, live: Live) -> Iterator[object]:
    users: list[User] = []

    def make(username: str, lang: str | None = None) -> User:
        user = User(browser, live, username, lang)
        users.append(user)
        return user

    yield make
    for user in users:
        user.close()


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
        client = client_service.create_client(db.session, {
            "name": name, "credit_code": credit_code, "bank_account": "6222020000111122223",
            "registered_capital": "30000000",
            "facts": {"litigation_count": 0, "negative_news_count": 0, "payment_history": "good"},
        }, sales)
        case = onboarding.start_admission(db.session, client.id, sales)
        db.session.commit()
        client_id, case_id = client.id, case.id
    settle(live)
    with live.app.app_context():
        engine.fire(db.session, case_id, "approve", Actor("risk2", frozenset({"risk_officer"})))
        db.session.commit()
    settle(live)
    return client_id
