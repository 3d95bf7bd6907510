"""On PostgreSQL the migrated schema refuses UPDATE, DELETE and TRUNCATE of audit rows."""

from __future__ import annotations

import pytest
from sqlalchemy import create_engine, text
from sqlalchemy.exc import DBAPIError
from sqlalchemy.orm import Session

from api import create_app
from api.extensions import db
from tests import fixture_registry
from tests.support.app import FIXTURES, TEST_KEYS
from tests.support.databases import empty_tables, fresh_postgres
from workflow.audit import checkpoints
from workflow.records import trail as audit
from workflow.records.identity import Actor


@pytest.fixture
def migrated_pg(tmp_path, monkeypatch):
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    with fresh_postgres() as url:
        # Only the test definitions: this test is about the schema, not the workflows.
        app = create_app(
            {"DATABASE_URL": url, "RISKLOOP_DEFINITIONS": str(FIXTURES), **TEST_KEYS},
            registries=[fixture_registry.registry],
        )
        from flask_migrate import upgrade

        with app.app_context():
            upgrade(directory="api/migrations")
            db.session.remove()
            db.engine.dispose()
        engine = create_engine(url)
        with Session(engine) as s:
            audit.record_event(
                s, "client:1", "client.created", Actor("sales1", frozenset({"sales"}))
            )
            checkpoints.create_checkpoint(s, Actor.system("test"), key="k")
            s.commit()
        yield url, engine
        engine.dispose()


@pytest.mark.parametrize("table", ["audit_records", "audit_checkpoints", "audit_checkpoint_heads"])
@pytest.mark.parametrize(
    "statement", ["UPDATE {t} SET seq = seq + 1000", "DELETE FROM {t}", "TRUNCATE {t} CASCADE"]
)
def test_the_trigger_refuses_changing_or_removing_audit_rows(migrated_pg, table, statement):
    _url, engine = migrated_pg
    with pytest.raises(DBAPIError, match="append-only"), engine.begin() as conn:
        conn.execute(text(statement.format(t=table)))
    with engine.connect() as conn:
        assert conn.execute(text(f"SELECT count(*) FROM {table}")).scalar_one() == 1


def test_inserting_still_works_and_test_clean_up_in_replica_mode_is_not_refused(migrated_pg):
    _url, engine = migrated_pg
    with Session(engine) as s:
        audit.record_event(s, "client:1", "client.updated", Actor("sales1", frozenset({"sales"})))
        s.commit()
    with engine.connect() as conn:
        enabled = set(
            conn.execute(
                text(
                    "SELECT tgenabled FROM pg_trigger WHERE tgname LIKE 'audit_%' AND NOT tgisinternal"
                )
            ).scalars()
        )
    assert enabled == {"O"}  # ordinary triggers: not ENABLE ALWAYS
    # What tests.support.databases.truncate_all does between tests, on the audit tables.
    with engine.begin() as conn:
        empty_tables(conn, ["audit_records", "audit_checkpoints", "audit_checkpoint_heads"])
    with engine.connect() as conn:
        assert conn.execute(text("SELECT count(*) FROM audit_records")).scalar_one() == 0
