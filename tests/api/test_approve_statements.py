"""What one approve costs the database through the API on PostgreSQL: the token check,
the authorisation's read (plain columns, no ORM load), the lock, every write in one
statement, COMMIT — and nothing after the commit."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import psycopg
import pytest
from flask import Flask
from sqlalchemy import event

from api.extensions import db, runtime_of
from tests.support.app import Api, make_app
from tests.support.databases import fresh_database
from workflow.audit.verification import verify_all
from workflow.engine import firing as engine
from workflow.platform import clock
from workflow.records.identity import Actor


@pytest.fixture
def pg_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    with fresh_database("postgresql", tmp_path, with_schema=True) as url:
        app = make_app(url, tmp_path)
        runtime_of(app).outbox_sender = None
        yield app
        clock.freeze(None)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


def test_an_approve_is_five_statements_with_the_commit(pg_app: Flask) -> None:
    api = Api(pg_app.test_client())
    with pg_app.app_context():
        case = engine.start(
            db.session, "test_approval", Actor("sales1", frozenset({"sales"})), subject_id=1
        ).id
        db.session.commit()
    assert api.act("sales1", case, "submit", expected_version=1).status_code == 200
    api.token("risk1")  # signed in before counting
    sent: list[str] = []
    original = psycopg.Cursor.execute

    def counted(self, query, *args, **kwargs):  # noqa: ANN001, ANN002, ANN003, ANN202
        sent.append(str(query).split()[0])
        return original(self, query, *args, **kwargs)

    def committed(*_args: object) -> None:
        sent.append("COMMIT")

    with pg_app.app_context():
        bind = db.engine
    event.listen(bind, "commit", committed)
    psycopg.Cursor.execute = counted  # type: ignore[method-assign]
    try:
        r = api.act("risk1", case, "approve", amount=5000, expected_version=2)
    finally:
        psycopg.Cursor.execute = original  # type: ignore[method-assign]
        event.remove(bind, "commit", committed)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["instance"]["state"] == "approved"
    # token, authorisation's read, lock (with the key's record), every write, COMMIT
    assert sent == ["SELECT", "SELECT", "SELECT", "WITH", "COMMIT"]
    with pg_app.app_context():
        assert verify_all(db.session).ok
