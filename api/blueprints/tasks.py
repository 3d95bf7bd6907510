"""The caller's inbox: cases waiting for them, most urgent first."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView
from marshmallow import fields, validate

from workflow.engine.inbox import inbox
from workflow.engine.presentation import present_instance

from ..authorization import allow, signed_in
from ..extensions import db, runtime_of
from ..fields import Schema
from ..request_shape import Blueprint
from ..schemas import TaskPage
from ..security import BEARER, current_actor, protect

blp = protect(Blueprint("tasks", __name__, url_prefix="/api/v1/tasks", description="My inbox"))


class TaskQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    definition = fields.String(validate=validate.Length(max=64))


@blp.route("")
class TaskList(MethodView):
    @allow(signed_in)
    @blp.doc(security=[BEARER])
    @blp.arguments(TaskQuery, location="query")
    @blp.response(200, TaskPage)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Open cases the caller can act on now, by SLA due time."""
        actor = current_actor()
        catalog = runtime_of().catalog
        items = []
        for instance, actions in inbox(
            db.session, catalog, actor, limit=query["limit"], definition=query.get("definition")
        ):
            items.append(present_instance(db.session, instance, actor, actions))
        return {"items": items, "count": len(items)}
