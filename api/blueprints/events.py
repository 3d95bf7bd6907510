"""Risk events of a client (record and list), signed event batches, and the rating history."""

from __future__ import annotations

from typing import Any

from flask import Flask
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import fields, validate

from workflow.platform.transaction import transact
from workflow.records.identity import Actor
from workflow.risk.events.intake import (
    MAX_BATCH,
    EventFields,
    list_events,
    readable_client,
    record_batch,
    record_event,
    recordable_client,
)
from workflow.risk.events.model import EVENT_TYPES, RatingRecord, RiskEvent
from workflow.risk.events.rerating import ratings_of

from ..authorization import allow, public
from ..extensions import db
from ..fields import Schema, UtcDateTime
from ..request_shape import Blueprint
from ..schemas import PageQuery
from ..security import BEARER, current_actor, protect
from .alerts import SIGNATURE_PARAMETERS, verify_signature
from .workflows import parse_cursor

blp = protect(
    Blueprint(
        "risk_events",
        __name__,
        url_prefix="/api/v1/clients",
        description="Risk events of a client (风险事件) and its rating history (评级历史)",
    )
)
hook_blp = Blueprint(
    "risk_events_webhook",
    __name__,
    url_prefix="/api/v1/events",
    description="Signed batches of risk events from monitoring and data services",
)


class EventSchema(Schema):
    id = fields.Integer(required=True)
    client_id = fields.Integer(required=True)
    type = fields.String(required=True)
    title = fields.String(required=True)
    details = fields.String()
    keywords = fields.List(fields.String())
    data = fields.Dict()
    source = fields.String()
    external_id = fields.String()
    occurred_at = UtcDateTime()
    received_at = UtcDateTime()
    recorded_by = fields.String()
    outcome = fields.Dict(
        allow_none=True,
        metadata={
            "description": "What the monitoring rules did: {rule_set, fired: [{rule, actions}], "
            "errors, rating}; null until they ran (within seconds)"
        },
    )


class EventPage(Schema):
    items = fields.List(fields.Nested(EventSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class EventQuery(PageQuery):
    type = fields.String(validate=validate.OneOf(EVENT_TYPES))


class BatchBody(Schema):
    events = fields.List(
        fields.Dict(),
        required=True,
        validate=validate.Length(min=1, max=MAX_BATCH),
        metadata={
            "description": "Up to 1,000 events, each an event body with client_id (or "
            "credit_code), source and external_id; each is accepted or refused on its own"
        },
    )


class BatchItem(Schema):
    index = fields.Integer(required=True)
    status = fields.String(required=True, metadata={"enum": ["created", "duplicate", "refused"]})
    event_id = fields.Integer()
    client_id = fields.Integer()
    errors = fields.Dict(metadata={"description": "Why a refused event was refused, per field"})


class BatchResult(Schema):
    accepted = fields.Integer(required=True)
    refused = fields.Integer(required=True)
    results = fields.List(fields.Nested(BatchItem), required=True)


class RatingSchema(Schema):
    id = fields.Integer(required=True)
    client_id = fields.Integer(required=True)
    rating = fields.String(required=True)
    risk_score = fields.Float(required=True)
    risk_level = fields.String(required=True)
    credit_limit = fields.Float(allow_none=True)
    previous = fields.Dict(allow_none=True)
    reasons = fields.List(
        fields.Dict(),
        metadata={
            "description": "{kind: rule, id, rating, reason} for each hard rule that fired, "
            "then {kind: scorecard, decided_by, contributions, facts}"
        },
    )
    rule_set_version = fields.String()
    trigger = fields.String(
        metadata={"description": "screening | event:<id> | change_request:<id>"}
    )
    outcome = fields.String(metadata={"enum": ["applied", "proposed", "unchanged"]})
    change_request_id = fields.Integer(allow_none=True)
    rated_at = UtcDateTime()


class RatingPage(Schema):
    items = fields.List(fields.Nested(RatingSchema), required=True)
    next_cursor = fields.String(allow_none=True)


def _event(event: RiskEvent) -> dict[str, Any]:
    return {name: getattr(event, name) for name in EventSchema().fields}


def _rating(record: RatingRecord) -> dict[str, Any]:
    return {name: getattr(record, name) for name in RatingSchema().fields}


@blp.route("/<int:client_id>/events")
class ClientEvents(MethodView):
    @allow(readable_client)
    @blp.doc(security=[BEARER])
    @blp.arguments(EventQuery, location="query")
    @blp.response(200, EventPage)
    @blp.alt_response(403, description="Sales and admins do not read the risk picture")
    def get(self, query: dict[str, Any], client_id: int) -> dict[str, Any]:
        """The client's risk events, newest first, with what the monitoring rules did."""
        rows, more = list_events(
            db.session,
            client_id,
            type=query.get("type"),
            limit=query["limit"],
            before_id=parse_cursor(query.get("cursor")),
        )
        return {
            "items": [_event(e) for e in rows],
            "next_cursor": str(rows[-1].id) if more and rows else None,
        }

    @allow(recordable_client)
    @blp.doc(security=[BEARER])
    @blp.arguments(EventFields)
    @blp.response(201, EventSchema, description="Stored; the monitoring rules run on it next")
    @blp.alt_response(
        200, schema=EventSchema, description="This source and external_id were seen before"
    )
    @blp.alt_response(403, description="Only risk officers, managers and legal record events")
    def post(self, body: dict[str, Any], client_id: int) -> tuple[dict[str, Any], int]:
        """Record a risk event (risk officers, managers, legal); deduplicated by source and
        external_id."""
        actor = current_actor()
        recorded = transact(db.session, lambda: record_event(db.session, actor, client_id, body))
        return _event(recorded.event), 201 if recorded.created else 200


@blp.route("/<int:client_id>/ratings")
class ClientRatings(MethodView):
    @allow(readable_client)
    @blp.doc(security=[BEARER])
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, RatingPage)
    def get(self, query: dict[str, Any], client_id: int) -> dict[str, Any]:
        """The client's rating history, newest first: each evaluation by the rule set, why,
        what triggered it and whether it applied at once or was proposed for approval."""
        rows, more = ratings_of(
            db.session,
            client_id,
            limit=query["limit"],
            before_id=parse_cursor(query.get("cursor")),
        )
        return {
            "items": [_rating(r) for r in rows],
            "next_cursor": str(rows[-1].id) if more and rows else None,
        }


hook_blp.before_request(verify_signature)


@hook_blp.route("/webhook")
class EventWebhook(MethodView):
    @allow(public)  # the signature is the credential (checked first, by verify_signature)
    @hook_blp.doc(parameters=SIGNATURE_PARAMETERS)
    @hook_blp.arguments(BatchBody)
    @hook_blp.response(200, BatchResult)
    @hook_blp.alt_response(401, description="Missing, wrong or stale signature: nothing stored")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Signed batch intake: each event is stored (``created``), found stored already
        (``duplicate``) or ``refused`` with the reason, on its own."""
        results = transact(
            db.session, lambda: record_batch(db.session, Actor.system("webhook"), body["events"])
        )
        refused = sum(1 for r in results if r["status"] == "refused")
        return {"accepted": len(results) - refused, "refused": refused, "results": results}


def register(app: Flask, api: Api) -> None:
    api.register_blueprint(blp)
    api.register_blueprint(hook_blp)
