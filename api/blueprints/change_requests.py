"""Change requests: sensitive edits of a client, applied after a dual approval.

Approving, rejecting and cancelling are the generic workflow actions
(``POST /api/v1/workflows/{id}/actions/approve|reject|cancel``).
"""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import RAISE, fields, validate

from workflow.engine.presentation import present_instance
from workflow.platform.transaction import transact
from workflow.risk.clients.model import CHANGEABLE_FIELDS
from workflow.risk.clients.validation import ClientFieldsSchema
from workflow.risk.sensitive_edit import (
    changeable_client,
    read_change_values,
    request_sensitive_edit,
    visible_request,
)

from ..authorization import allow
from ..extensions import db
from ..fields import FreeText, Schema, Text
from ..request_shape import Blueprint
from ..schemas import WorkflowInstanceSchema
from ..security import BEARER, current_actor, protect

blp = protect(
    Blueprint(
        "change_requests",
        __name__,
        url_prefix="/api/v1/clients",
        description="Sensitive edits of a client, applied after two approvals",
    )
)


# How the document describes ``changes``: the sensitive fields, as a client has them. The
# service checks them (an empty object, or a field that is not sensitive, is a 422).
SENSITIVE_CHANGES = ClientFieldsSchema(only=CHANGEABLE_FIELDS)


class ChangeRequestBody(Schema):
    class Meta:
        unknown = RAISE

    changes = fields.Dict(
        keys=Text(validate=validate.Length(min=1, max=64)),
        required=True,
        metadata={
            "description": "New values of sensitive fields and screened inputs: "
            + ", ".join(CHANGEABLE_FIELDS),
            "minProperties": 1,
            "allOf": [{"$ref": "#/components/schemas/SensitiveChanges"}],
        },
    )
    reason = FreeText(required=True, validate=validate.Length(min=1, max=2000))


@blp.route("/<int:client_id>/change-requests")
class ChangeRequests(MethodView):
    @allow(changeable_client)
    @blp.doc(security=[BEARER])
    @blp.arguments(ChangeRequestBody)
    @blp.response(201, WorkflowInstanceSchema)
    @blp.alt_response(403, description="A role that may not request")
    @blp.alt_response(404, description="No such client, or (sales) another owner's")
    @blp.alt_response(409, description="An open request already changes one of these fields")
    @blp.alt_response(422, description="Empty, unknown, non-sensitive or invalid changes")
    def post(self, body: dict[str, Any], client_id: int) -> dict[str, Any]:
        """File a change request; the new values apply once two other people approve."""
        actor = current_actor()
        instance = transact(
            db.session,
            lambda: request_sensitive_edit(
                db.session,
                client_id,
                body["changes"],
                body["reason"],
                actor,
                request_id=g.request_id,
            ),
        )
        return present_instance(db.session, instance, actor)


class ChangeValues(Schema):
    changes = fields.Dict(
        required=True,
        metadata={
            "description": "{field: {before, after}}; in full for risk officers, legal, managers "
            "and auditors (an audited read), masked for everyone else"
        },
    )


@blp.route("/<int:client_id>/change-requests/<int:instance_id>/values")
class ChangeRequestValues(MethodView):
    @allow(visible_request)
    @blp.doc(security=[BEARER])
    @blp.response(200, ChangeValues)
    @blp.alt_response(404, description="No such change request on this client")
    def get(self, client_id: int, instance_id: int) -> dict[str, Any]:
        """The requested values in full, to check them against documents (recorded in the
        client's audit trail); ``GET /api/v1/workflows/{id}`` shows them masked."""
        actor = current_actor()
        return transact(
            db.session,
            lambda: {"changes": read_change_values(db.session, client_id, instance_id, actor)},
        )


def register(app: Flask, api: Api) -> None:
    api.spec.components.schema("SensitiveChanges", schema=SENSITIVE_CHANGES)
    api.register_blueprint(blp)
