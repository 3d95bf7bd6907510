"""Migrations build the same schema as the models, on SQLite and PostgreSQL."""

from alembic.autogenerate import compare_metadata
from alembic.migration import MigrationContext
from sqlalchemy import create_engine

from api import create_app
from api.extensions import db
from workflow.platform.db import Base


def test_upgrade_builds_the_models_schema_with_no_pending_changes(
    empty_db_url, tmp_path, monkeypatch
):
    db_url = empty_db_url
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "DATABASE_URL": db_url,
            "SECRET_KEY": "k",
            "RISKLOOP_AUDIT_KEY": "a",
            "RISKLOOP_ENCRYPTION_KEYS": "3q2-7wEjT5Ue8gGz8ff6k8pO1o0mQ4nH9Tk8yq1bZ3I=",
        }
    )
    from flask_migrate import upgrade

    with app.app_context():
        upgrade(directory="api/migrations")
        engine = create_engine(db_url)
        with engine.connect() as conn:
            diff = compare_metadata(
                MigrationContext.configure(conn, opts={"compare_type": True}), Base.metadata
            )
        engine.dispose()
        db.session.remove()
    assert diff == []
