"""Cases for the console tests: an approval case started (and submitted) through the engine, and
its state."""

from __future__ import annotations

from flask import Flask

from api.extensions import db
from workflow.engine import firing as engine
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance


def start_case(app: Flask, by: str = "sales1", submit: bool = True) -> int:
    with app.app_context():
        actor = Actor(by, frozenset({"sales"}))
        instance = engine.start(
            db.session,
            "test_approval",
            actor,
            subject_type="client",
            data={"title": "上海某某贸易有限公司"},
        )
        db.session.flush()
        if submit:
            engine.fire(db.session, instance.id, "submit", actor)
        db.session.commit()
        return instance.id


def state_of(app: Flask, instance_id: int) -> tuple[str, int]:
    with app.app_context():
        instance = db.session.get(WorkflowInstance, instance_id)
        return instance.state, instance.version
