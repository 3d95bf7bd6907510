"""api.dumping: a schema's dump compiled once gives what the schema's own dump gives — on
the answers of real approvals (the one place it is used) and on values at the edges."""

from __future__ import annotations

from datetime import UTC, datetime
from typing import Any

import pytest
from flask import Flask
from marshmallow import fields, post_dump

from api.dumping import compile_dump
from api.extensions import db
from api.fields import Schema
from api.schemas import AuditRecordSchema, FireResultSchema, WorkflowInstanceSchema
from tests.support.app import Api
from workflow.engine import firing as engine
from workflow.engine.presentation import present_instance
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance

SALES = Actor("sales1", frozenset({"sales"}))


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_an_approve_answers_what_the_schema_dumps(app: Flask, api: Api) -> None:
    with app.app_context():
        case = engine.start(
            db.session, "test_approval", SALES, subject_id=3, data={"amount": 12, "note": "x"}
        ).id
        db.session.commit()
    submitted = api.act("sales1", case, "submit", expected_version=1)
    approved = api.act("risk1", case, "approve", amount=5000, expected_version=2)
    for response in (submitted, approved):
        assert response.status_code == 200, response.get_json()
        assert response.mimetype == "application/json"
    with app.app_context():
        instance = db.session.get(WorkflowInstance, case)
        for who in (SALES, Actor("risk1", frozenset({"risk_officer"}))):
            answer = {
                "instance": present_instance(db.session, instance, who),
                "from_state": "pending",
                "to_state": "approved",
                "replayed": False,
            }
            assert compile_dump(FireResultSchema())(answer) == FireResultSchema().dump(answer)
            presented = present_instance(db.session, instance, who)
            compiled = compile_dump(WorkflowInstanceSchema())(presented)
            assert compiled == WorkflowInstanceSchema().dump(presented)
            assert "definition_title" not in compiled  # not in the schema: left out, as dump does
    body = approved.get_json()
    assert body["instance"]["state"] == "approved" and body["to_state"] == "approved"
    assert body["instance"]["updated_at"].endswith("+00:00")


EDGES: list[dict[str, Any]] = [
    {"id": 1, "seq": "2", "kind": None, "at": datetime(2026, 1, 2, 3, 4, 5, 6)},
    {"at": datetime(2026, 1, 2, tzinfo=UTC), "roles": ["a", None], "payload": {"k": [1]}},
    {"instance_id": None, "payload": None, "roles": None, "extra": "dropped"},
    {},
]


@pytest.mark.parametrize("record", EDGES)
def test_values_at_the_edges_dump_alike(record: dict[str, Any]) -> None:
    assert compile_dump(AuditRecordSchema())(record) == AuditRecordSchema().dump(record)


def test_a_schema_with_a_hook_or_options_is_dumped_by_itself() -> None:
    class Hooked(Schema):
        name = fields.String()

        @post_dump
        def shout(self, data: dict[str, Any], **_kwargs: Any) -> dict[str, Any]:
            return {"name": data["name"].upper()}

    assert compile_dump(Hooked())({"name": "a"}) == {"name": "A"}
    only = AuditRecordSchema(only=("id",))
    assert compile_dump(only)({"id": 1, "seq": 2}) == {"id": 1}
