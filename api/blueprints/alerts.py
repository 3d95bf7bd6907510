"""Alerts (raise, signed webhook intake, list) and the caller's in-app notifications."""

from __future__ import annotations

from typing import Any

from flask import current_app, g, request
from flask.views import MethodView
from marshmallow import fields, validate

from workflow.engine.presentation import present_instance
from workflow.platform.transaction import transact
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.alerts import webhook as alert_webhook
from workflow.risk.alerts.intake import (
    CATEGORIES,
    LEVELS,
    Alert,
    Raised,
    authorize_raise,
    list_alerts,
    owners_of,
    raise_alert,
)
from workflow.risk.notify import notifications as notes

from ..authorization import allow, public, signed_in
from ..extensions import db
from ..fields import FreeText, Schema, Text, UtcDateTime
from ..request_shape import Blueprint
from ..schemas import PageQuery, WorkflowInstanceSchema
from ..security import BEARER, current_actor, protect
from .workflows import parse_cursor

blp = protect(
    Blueprint(
        "alerts",
        __name__,
        url_prefix="/api/v1/alerts",
        description="Risk alerts and their remediation loops (预警闭环)",
    )
)
hook_blp = Blueprint(
    "alerts_webhook",
    __name__,
    url_prefix="/api/v1/alerts",
    description="Signed alert intake for external monitoring systems",
)
notif_blp = protect(
    Blueprint(
        "notifications",
        __name__,
        url_prefix="/api/v1/notifications",
        description="The caller's in-app notifications",
    )
)


MAX_ID = 2**63 - 1  # ids are 64-bit: a larger one is a 422, not a database error


class AlertBody(Schema):
    client_id = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_ID)
    )
    level = fields.String(required=True, validate=validate.OneOf(LEVELS))
    category = fields.String(required=True, validate=validate.OneOf(CATEGORIES))
    title = Text(required=True, validate=validate.Length(min=1, max=200))
    details = FreeText(load_default="", validate=validate.Length(max=10000))
    source = Text(load_default="manual", validate=validate.Length(min=1, max=64))
    external_id = Text(load_default=None, validate=validate.Length(min=1, max=128))


class WebhookAlertBody(AlertBody):
    source = Text(required=True, validate=validate.Length(min=1, max=64))
    external_id = Text(required=True, validate=validate.Length(min=1, max=128))


class AlertSchema(Schema):
    id = fields.Integer(required=True)
    client_id = fields.Integer(required=True)
    level = fields.String(required=True)
    category = fields.String(required=True)
    title = fields.String(required=True)
    details = fields.String()
    source = fields.String()
    external_id = fields.String()
    raised_by = fields.String()
    owners = fields.List(fields.String())
    breaches = fields.Integer()
    last_breached_at = UtcDateTime(allow_none=True)
    reopens = fields.Integer()
    created_at = UtcDateTime()


class AlertInstanceSchema(WorkflowInstanceSchema):
    alert = fields.Nested(AlertSchema, required=True)


class AlertPage(Schema):
    items = fields.List(fields.Nested(AlertInstanceSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class AlertQuery(PageQuery):
    level = fields.String(validate=validate.OneOf(LEVELS))
    state = fields.String(validate=validate.Length(max=64))
    client_id = fields.Integer(validate=validate.Range(min=1, max=MAX_ID))
    owner = fields.String(validate=validate.Length(max=64))
    breached = fields.Boolean()


class NotificationSchema(Schema):
    id = fields.Integer(required=True)
    event = fields.String(required=True)
    title = fields.String(required=True)
    body = fields.String()
    instance_id = fields.Integer(allow_none=True)
    created_at = UtcDateTime()
    read_at = UtcDateTime(allow_none=True)


class NotificationPage(Schema):
    items = fields.List(fields.Nested(NotificationSchema), required=True)
    next_cursor = fields.String(allow_none=True)
    unread_count = fields.Integer(required=True)


class NotificationQuery(PageQuery):
    unread = fields.Boolean(load_default=False)


class ReadAll(Schema):
    marked = fields.Integer(required=True)
    unread_count = fields.Integer(required=True)


def present_alert(
    alert: Alert, instance: WorkflowInstance, actor: Actor, owners: list[str]
) -> dict[str, Any]:
    data = present_instance(db.session, instance, actor)
    data["alert"] = {
        "id": alert.id,
        "client_id": alert.client_id,
        "level": alert.level,
        "category": alert.category,
        "title": alert.title,
        "details": alert.details,
        "source": alert.source,
        "external_id": alert.external_id,
        "raised_by": alert.raised_by,
        "owners": owners,
        "breaches": alert.breaches,
        "last_breached_at": alert.last_breached_at,
        "reopens": int((instance.data or {}).get("reopens", 0)),
        "created_at": alert.created_at,
    }
    return data


def _raise(body: dict[str, Any], actor: Actor) -> tuple[dict[str, Any], int]:
    raised: Raised = transact(
        db.session, lambda: raise_alert(db.session, actor, body, request_id=g.request_id)
    )
    owners = owners_of(db.session, [raised.alert.id])[raised.alert.id]
    return present_alert(
        raised.alert, raised.instance, actor, owners
    ), 201 if raised.created else 200


@blp.route("")
class AlertList(MethodView):
    @allow(signed_in)
    @blp.doc(security=[BEARER])
    @blp.arguments(AlertQuery, location="query")
    @blp.response(200, AlertPage)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Alerts visible to the caller, newest first; ``breached`` = breached an SLA at least once."""
        actor = current_actor()
        rows, more = list_alerts(
            db.session,
            actor,
            level=query.get("level"),
            state=query.get("state"),
            client_id=query.get("client_id"),
            owner=query.get("owner"),
            breached=query.get("breached"),
            limit=query["limit"],
            before_id=parse_cursor(query.get("cursor")),
        )
        owners = owners_of(db.session, [a.id for a, _ in rows])
        return {
            "items": [present_alert(a, i, actor, owners[a.id]) for a, i in rows],
            "next_cursor": str(rows[-1][0].id) if more and rows else None,
        }

    @allow(authorize_raise)
    @blp.doc(security=[BEARER])
    @blp.arguments(AlertBody)
    @blp.response(201, AlertInstanceSchema, description="A new loop was started")
    @blp.alt_response(
        200,
        schema=AlertInstanceSchema,
        description="This source and external_id were seen before: the existing loop",
    )
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Raise an alert (risk officers, managers, system accounts); starts its remediation loop."""
        return _raise(body, current_actor())


def verify_signature() -> None:
    """Before a signed intake's body is read: its signature (alerts and risk events share
    the scheme and the secret)."""
    alert_webhook.verify(
        request.headers.get(alert_webhook.TIMESTAMP_HEADER),
        request.headers.get(alert_webhook.SIGNATURE_HEADER),
        request.get_data(cache=True),
        current_app.extensions["riskloop"]["runtime"].settings,
    )


# How the OpenAPI document describes the signature headers of a signed intake.
SIGNATURE_PARAMETERS = [
    {
        "in": "header",
        "name": alert_webhook.TIMESTAMP_HEADER,
        "required": True,
        "schema": {"type": "string"},
        "description": "Unix seconds; older than 5 minutes is refused",
    },
    {
        "in": "header",
        "name": alert_webhook.SIGNATURE_HEADER,
        "required": True,
        "schema": {"type": "string"},
        "description": "sha256=hex(HMAC-SHA256(RISKLOOP_WEBHOOK_SECRET, timestamp + '.' + raw body))",
    },
]
hook_blp.before_request(verify_signature)


@hook_blp.route("/webhook")
class AlertWebhook(MethodView):
    @allow(public)  # the signature is the credential (checked first, by verify_signature)
    @hook_blp.doc(parameters=SIGNATURE_PARAMETERS)
    @hook_blp.arguments(WebhookAlertBody)
    @hook_blp.response(201, AlertInstanceSchema, description="A new loop was started")
    @hook_blp.alt_response(
        200, schema=AlertInstanceSchema, description="Seen before: the existing loop"
    )
    @hook_blp.alt_response(401, description="Missing, wrong or stale signature")
    def post(self, body: dict[str, Any]) -> tuple[dict[str, Any], int]:
        """Signed intake from monitoring systems; deduplicated by source and external_id."""
        return _raise(body, Actor.system("webhook"))


@notif_blp.route("")
class NotificationList(MethodView):
    @allow(signed_in)
    @notif_blp.doc(security=[BEARER])
    @notif_blp.arguments(NotificationQuery, location="query")
    @notif_blp.response(200, NotificationPage)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """The caller's notifications, newest first, with the unread count."""
        actor = current_actor()
        rows, more = notes.list_notifications(
            db.session,
            actor,
            unread=query["unread"],
            limit=query["limit"],
            before_id=parse_cursor(query.get("cursor")),
        )
        return {
            "items": rows,
            "next_cursor": str(rows[-1].id) if more and rows else None,
            "unread_count": notes.unread_count(db.session, actor.username),
        }


@notif_blp.route("/<int:notification_id>/read")
class NotificationRead(MethodView):
    @allow(notes.own_notification)
    @notif_blp.doc(security=[BEARER])
    @notif_blp.response(200, NotificationSchema)
    def post(self, notification_id: int) -> Any:
        """Mark one of the caller's notifications read."""
        actor = current_actor()
        return transact(db.session, lambda: notes.mark_read(db.session, actor, notification_id))


@notif_blp.route("/read-all")
class NotificationReadAll(MethodView):
    @allow(signed_in)
    @notif_blp.doc(security=[BEARER])
    @notif_blp.response(200, ReadAll)
    def post(self) -> dict[str, Any]:
        """Mark every notification of the caller read."""
        actor = current_actor()
        marked = transact(db.session, lambda: notes.mark_all_read(db.session, actor))
        return {"marked": marked, "unread_count": notes.unread_count(db.session, actor.username)}


def register(app: Any, api: Any) -> None:
    for blueprint in (blp, hook_blp, notif_blp):
        api.register_blueprint(blueprint)
