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


@pytest.fixture(scope="module")
def module_console_factory(module_app: Flask):  # noqa: ANN201
    """``console_factory`` over ``module_app``: one signed-in console a user for the module
    (its tests change nothing a console keeps, such as the language)."""
    signed_in: dict[str, Console] = {}

    def make(username: str | None = None) -> Console:
        if username is None:
            return Console(module_app.test_client())
        if username not in signed_in:
            console = Console(module_app.test_client())
            response = console.login(username)
            assert response.status_code == 302, response.get_data(as_text=True)
            signed_in[username] = console
        return signed_in[username]

    return make
