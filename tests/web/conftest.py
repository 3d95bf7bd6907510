from __future__ import annotations

import pytest
from flask import Flask

from tests.support.console import Console


@pytest.fixture
def console_factory(app: Flask):  # noqa: ANN201
    def make(username: str | None = None) -> Console:
        console = Console(app.test_client())
        if username:
            response = console.login(username)
            assert response.status_code == 302, response.get_data(as_text=True)
        return console

    return make
