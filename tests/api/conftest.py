"""Fixtures of the API tests beyond the shared app (tests/conftest.py): the audit tests'
app with the ``test_loop`` definition and its hand-built history, and the app with its
outbox sender in place for the embedded-worker tests."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask

from api.extensions import db
from tests.support.app import lent_without_sender, make_app
from tests.support.audit_history import build_history, make_loop_app


@pytest.fixture
def live(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app with its outbox sender in place (the fixture ``app`` removes it)."""
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(db_url, tmp_path)
    yield app
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


@pytest.fixture
def loop_app(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app with ``test_loop`` loaded too; a module uses it by overriding ``app``."""
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_loop_app(db_url, tmp_path)
    with lent_without_sender(app):
        yield app


@pytest.fixture
def history(app: Flask) -> dict[str, int]:
    """Three ``test_loop`` cases with known stage durations (see ``build_history``)."""
    return build_history(app)
