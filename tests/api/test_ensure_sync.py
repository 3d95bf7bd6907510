"""The app remembers which callables are coroutine functions (api._remember_sync_callables)
instead of asking inspect on every request; the answers stay Flask's."""

from __future__ import annotations

import pytest
from flask import Flask


class _View:
    def get(self) -> str:
        return "plain"

    async def post(self) -> str:
        return "async"


def _converted(app: Flask, func: object) -> object:
    try:
        return app.ensure_sync(func)
    except RuntimeError:  # Flask without its async extra refuses a coroutine function
        return "refused"


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_plain_callables_pass_and_coroutine_functions_are_still_converted(app: Flask) -> None:
    def plain() -> None: ...

    async def coro() -> None: ...

    for _ in range(2):  # asked, then remembered
        assert app.ensure_sync(plain) is plain
        assert _converted(app, coro) is not coro
        for view in (_View(), _View()):  # bound to a new object each time, as views are
            assert app.ensure_sync(view.get) == view.get
            assert _converted(app, view.post) != view.post


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_unhashable_callable_is_asked_every_time(app: Flask) -> None:
    class Unhashable:
        __hash__ = None  # type: ignore[assignment]

        def __call__(self) -> None: ...

    func = Unhashable()
    assert app.ensure_sync(func) is func
