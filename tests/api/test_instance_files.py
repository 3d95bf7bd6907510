"""Embedded mode keeps its instance folder and SQLite database to the owner (the
generated keys are written with owner-only permissions; the database beside them holds
the rest)."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest
from sqlalchemy import text

from api import create_app
from api.extensions import db
from tests.support.app import TEST_KEYS


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.fixture
def loose_umask():
    """As on a stock system: files 0644 and folders 0755 unless the code says otherwise."""
    old = os.umask(0o022)
    yield
    os.umask(old)


def test_a_fresh_embedded_install_creates_folder_keys_and_database_owner_only(
    tmp_path, monkeypatch, loose_umask
):
    instance = tmp_path / "instance"
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(instance))
    monkeypatch.delenv("DATABASE_URL", raising=False)
    for key in TEST_KEYS:
        monkeypatch.delenv(key, raising=False)
    app = create_app()
    with app.app_context():
        db.session.execute(text("create table probe (x integer)"))
        db.session.execute(text("insert into probe values (1)"))
        db.session.commit()
        db.engine.dispose()
    database = instance / "riskloop.sqlite"
    assert database.stat().st_size > 0  # SQLite wrote into the file made for it
    assert _mode(instance) == 0o700
    assert _mode(instance / "keys.json") == 0o600
    assert _mode(database) == 0o600


def test_a_world_readable_database_from_an_earlier_version_is_made_owner_only(
    tmp_path, monkeypatch, loose_umask
):
    instance = tmp_path / "instance"
    instance.mkdir()
    database = instance / "old.sqlite"
    database.write_bytes(b"")
    os.chmod(database, 0o644)
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(instance))
    create_app({"DATABASE_URL": f"sqlite:///{database}", **TEST_KEYS})
    assert _mode(database) == 0o600
    assert _mode(instance) == 0o755  # an existing folder is the operator's choice


def test_postgresql_and_in_memory_databases_touch_no_file(tmp_path):
    from api.instance_folder import sqlite_file

    assert sqlite_file("postgresql+psycopg://postgres@127.0.0.1:5432/test") is None
    assert sqlite_file("sqlite://") is None and sqlite_file("sqlite:///:memory:") is None
    assert sqlite_file(f"sqlite:///{tmp_path}/x.sqlite") == tmp_path / "x.sqlite"
