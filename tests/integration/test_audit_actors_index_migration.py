"""Migration 0020 adds the index that answers who fired which trigger on a case
(``ix_audit_records_stream_trigger``); the downgrade removes it (SQLite and PostgreSQL)."""

from __future__ import annotations

from pathlib import Path

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import inspect

from api import create_app
from api.extensions import db

INDEX = "ix_audit_records_stream_trigger"


def _indexes() -> set[str]:
    return {ix["name"] for ix in inspect(db.engine).get_indexes("audit_records")}


def test_the_trigger_actors_index_comes_and_goes_with_0020(
    empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "DATABASE_URL": empty_db_url,
            "SECRET_KEY": "k",
            "RISKLOOP_AUDIT_KEY": "a",
            "RISKLOOP_ENCRYPTION_KEYS": "3q2-7wEjT5Ue8gGz8ff6k8pO1o0mQ4nH9Tk8yq1bZ3I=",
        }
    )
    with app.app_context():
        upgrade(directory="api/migrations", revision="0019_contract_files")
        assert INDEX not in _indexes()
        upgrade(directory="api/migrations", revision="0020_audit_trigger_actors")
        assert INDEX in _indexes()
        if empty_db_url.startswith("postgresql"):
            definition = db.session.execute(
                db.text("SELECT indexdef FROM pg_indexes WHERE indexname = :n"), {"n": INDEX}
            ).scalar_one()
            assert "INCLUDE (actor)" in definition and "trigger IS NOT NULL" in definition
            db.session.rollback()
        downgrade(directory="api/migrations", revision="0019_contract_files")
        assert INDEX not in _indexes()
        upgrade(directory="api/migrations")
        assert INDEX in _indexes()
        db.session.remove()
        db.engine.dispose()
