"""Erasure requests (PIPL): a client's personal data made unreadable after a manager's approval.

Approving, rejecting and cancelling are the generic workflow actions
(``POST /api/v1/workflows/{id}/actions/approve|reject|cancel``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import RAISE, validate

from workflow.engine.presentation import present_instance
from workflow.platform.transaction import transact
from workflow.risk.erasure import erasable_client, request_erasure

from ..authorization import allow
from ..extensions import db
from ..fields import FreeText, Schema
from ..request_shape import Blueprint
from ..schemas import WorkflowInstanceSchema
from ..security import BEARER, current_actor, protect

blp = protect(
    Blueprint(
        "erasure",
        __name__,
        url_prefix="/api/v1/clients",
        description="Erasure of a client's personal data (PIPL), after a manager's approval",
    )
)


class ErasureBody(Schema):
    class Meta:
        unknown = RAISE

    reason = FreeText(
        required=True,
        validate=validate.Length(min=1, max=2000),
        metadata={"description": "Why, and on which legal basis, the data is to be erased"},
    )


@blp.route("/<int:client_id>/erasure")
class ErasureRequests(MethodView):
    @allow(erasable_client)
    @blp.doc(security=[BEARER])
    @blp.arguments(ErasureBody)
    @blp.response(201, WorkflowInstanceSchema)
    @blp.alt_response(403, description="Only legal or a manager may request an erasure")
    @blp.alt_response(404, description="No such client")
    @blp.alt_response(
        409,
        description="The client is erased already, has an open erasure request, or has another "
        "open case (alert, due diligence, onboarding, change request)",
    )
    @blp.alt_response(422, description="No reason")
    def post(self, body: dict[str, Any], client_id: int) -> dict[str, Any]:
        """Request the erasure of the client's personal data; a manager other than the
        requester approves it (``approve`` on the case), which destroys the record's key."""
        actor = current_actor()
        instance = transact(
            db.session,
            lambda: request_erasure(
                db.session, client_id, body["reason"], actor, request_id=g.request_id
            ),
        )
        return present_instance(db.session, instance, actor)


def register(app: Flask, api: Api) -> None:
    api.register_blueprint(blp)
