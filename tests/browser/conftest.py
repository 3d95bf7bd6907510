"""A real server on 127.0.0.1 and Debian's headless Chromium driven by Playwright.

The server is the real app (waitress, as ``riskloop run`` serves it) on a temporary
SQLite database; background tasks are drained by the tests as a worker would.
"""

from __future__ import annotations

import os
import threading
from collections.abc import Iterator

import pytest

from api.extensions import runtime_of
from tests.support.app import make_app
from tests.support.browser import (
    ARGS,
    CHROMIUM,
    Live,
    User,
    require_chromium,
)
from workflow.platform import clock


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
    require_chromium()
    from playwright.sync_api import sync_playwright

    with sync_playwright() as pw:
        chromium = pw.chromium.launch(executable_path=CHROMIUM, args=ARGS, headless=True)
        yield chromium
        chromium.close()


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
