"""What one approve costs the database through the API on PostgreSQL: the lock, whose
statement also checks the bearer token, that the authorisation reads (plain columns, no
ORM load) and the firing reuses, every write in one statement, COMMIT — and nothing after
the commit."""

from __future__ import annotations

import psycopg
import pytest
from flask import Flask

from api.extensions import db
from tests.support.app import Api, submitted_approval
from tests.support.statements import first_words, statements_sent
from workflow.audit.verification import verify_all


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_approve_is_three_statements_with_the_commit(app: Flask, api: Api) -> None:
    case = submitted_approval(app, api)
    api.token("risk1")  # signed in before counting
    with statements_sent() as statements:
        r = api.act("risk1", case, "approve", amount=5000, expected_version=2)
        sent = first_words(statements)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["instance"]["state"] == "approved"
    # the lock that checks the token and that the authorisation reads and fire() reuses,
    # every write, COMMIT
    assert sent == ["WITH", "WITH", "COMMIT"]
    with app.app_context():
        assert verify_all(db.session).ok


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_a_refused_approve_leaves_the_row_unlocked(app: Flask, api: Api, db_url: str) -> None:
    """The authorisation locks the row before refusing (lock-then-authorise): the refusal
    is rolled back with the request, and answers as before, body unread."""
    case = submitted_approval(app, api)
    refused = [
        api.act("auditor1", case, "approve", amount="not a number"),  # no role: 403 first
        api.act("sales2", case, "approve", amount=5),  # not theirs to see: 404
        api.act("risk1", case, "approve", amount=5, expected_version=1),  # stale: 409
    ]
    assert [r.status_code for r in refused] == [403, 404, 409]
    dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
    with psycopg.connect(dsn) as other:
        locked = other.execute(
            "SELECT version FROM workflow_instances WHERE id = %s FOR UPDATE NOWAIT", (case,)
        ).fetchone()
        assert locked == (2,)
        other.rollback()
    assert api.act("risk1", case, "approve", amount=5, expected_version=2).status_code == 200


def test_an_approve_parses_its_body_once(
    app: Flask, api: Api, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The authorisation reads the body's expected_version, the hygiene check refuses what
    may not be stored, the schema loads the fields: one parse serves all three."""
    import webargs.core
    from flask_smorest import Blueprint as SmorestBlueprint

    from api import request_shape

    case = submitted_approval(app, api)
    api.token("risk1")
    parses: list[str] = []
    hygienic, plain = request_shape.load_json, webargs.core.parse_json
    monkeypatch.setattr(
        request_shape, "load_json", lambda text: parses.append("hygiene") or hygienic(text)
    )
    monkeypatch.setattr(
        webargs.core, "parse_json", lambda *a, **k: parses.append("webargs") or plain(*a, **k)
    )
    r = api.act("risk1", case, "approve", amount=5000, expected_version=2)
    assert r.status_code == 200, r.get_json()
    assert parses == ["hygiene"]
    # every documented blueprint's operations load the checked body
    documented = [b for b in app.blueprints.values() if isinstance(b, SmorestBlueprint)]
    assert documented
    assert all(isinstance(b, request_shape.Blueprint) for b in documented)
