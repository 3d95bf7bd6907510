from __future__ import annotations

import pytest
from flask import Flask

from tests.api.conftest import api, app, client  # noqa: F401  (the API suite's app fixtures)

from .console_client import Console


@pytest.fixture
def console_factory(app: Flask):  # noqa: F811, ANN201
    def make(username: str | None = None) -> Console:
        console = Console(app.test_client())
        if username:
            response = console.login(username)
            assert response.status_code == 302, response.get_data(as_text=True)
        return console
    return make
