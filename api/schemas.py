"""Marshmallow schemas shared by the API's blueprints (inputs refuse unknown fields)."""

from __future__ import annotations

from marshmallow import INCLUDE, fields, validate

from .fields import FreeText, Schema, Text, UtcDateTime


class TokenRequest(Schema):
    username = Text(required=True, validate=validate.Length(min=1, max=64))
    password = FreeText(required=True, load_only=True, validate=validate.Length(min=1, max=256))


class TokenResponse(Schema):
    access_token = fields.String(required=True)
    token_type = fields.String(required=True)
    expires_at = UtcDateTime(required=True)
    username = fields.String(required=True)
    roles = fields.List(fields.String(), required=True)


class PageQuery(Schema):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[0-9]{1,18}$", error="Use next_cursor from the previous page."),
    )


class WorkflowQuery(PageQuery):
    definition = fields.String(validate=validate.Length(max=64))
    state = fields.String(validate=validate.Length(max=64))
    subject_id = fields.Integer(validate=validate.Range(min=1, max=2**63 - 1))
    open = fields.Boolean()


class WorkflowInstanceSchema(Schema):
    id = fields.Integer(required=True)
    definition = fields.String(required=True)
    definition_version = fields.Integer(required=True)
    state = fields.String(required=True)
    state_label = fields.Dict(keys=fields.String(), values=fields.String())
    version = fields.Integer(required=True)
    is_open = fields.Boolean()
    subject_type = fields.String(allow_none=True)
    subject_id = fields.Integer(allow_none=True)
    parent_id = fields.Integer(allow_none=True)
    created_by = fields.String()
    assignees = fields.List(fields.String())
    available_actions = fields.List(fields.String(), required=True)
    sla_due_at = UtcDateTime(allow_none=True)
    breached = fields.Boolean()
    data = fields.Dict()
    created_at = UtcDateTime()
    updated_at = UtcDateTime()
    state_entered_at = UtcDateTime()


class WorkflowPage(Schema):
    items = fields.List(fields.Nested(WorkflowInstanceSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class ActionBody(Schema):
    """Every action accepts these; the definition declares the rest of its payload
    (see ``GET /api/v1/definitions/{name}``); undeclared fields are refused."""

    class Meta:
        unknown = INCLUDE

    comment = FreeText(validate=validate.Length(max=4000), allow_none=True)
    expected_version = fields.Integer(
        validate=validate.Range(min=1, max=2**31 - 1), allow_none=True
    )


class FireResultSchema(Schema):
    instance = fields.Nested(WorkflowInstanceSchema, required=True)
    from_state = fields.String(required=True)
    to_state = fields.String(required=True)
    replayed = fields.Boolean(required=True)


class AuditRecordSchema(Schema):
    id = fields.Integer()
    stream = fields.String()
    seq = fields.Integer()
    kind = fields.String()
    instance_id = fields.Integer(allow_none=True)
    subject = fields.String(allow_none=True)
    definition = fields.String(allow_none=True)
    definition_version = fields.Integer(allow_none=True)
    trigger = fields.String(allow_none=True)
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    actor = fields.String()
    roles = fields.List(fields.String())
    at = UtcDateTime()
    comment = fields.String(allow_none=True)
    payload = fields.Dict()
    payload_hidden = fields.Boolean(
        metadata={"description": "the payload is not shown to this caller"}
    )
    request_id = fields.String(allow_none=True)
    idempotency_key = fields.String(allow_none=True)
    prev_hash = fields.String()
    hash = fields.String()


class AuditPage(Schema):
    items = fields.List(fields.Nested(AuditRecordSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class DefinitionSummary(Schema):
    name = fields.String(required=True)
    version = fields.Integer(required=True)
    versions = fields.List(fields.Integer())
    title = fields.Dict(keys=fields.String(), values=fields.String())
    subject = fields.String(allow_none=True)
    content_hash = fields.String()


class DefinitionState(Schema):
    name = fields.String()
    label = fields.Dict(keys=fields.String(), values=fields.String())
    final = fields.Boolean()
    sla_seconds = fields.Integer(allow_none=True)


class DefinitionTransition(Schema):
    trigger = fields.String()
    sources = fields.List(fields.String())
    dest = fields.String()
    outcomes = fields.List(fields.String())
    roles = fields.List(fields.String())
    guards = fields.List(fields.String())
    condition = fields.String(allow_none=True)
    payload = fields.Dict()
    label = fields.Dict(keys=fields.String(), values=fields.String())


class DefinitionDetail(DefinitionSummary):
    initial = fields.String()
    states = fields.List(fields.Nested(DefinitionState))
    transitions = fields.List(fields.Nested(DefinitionTransition))
    timers = fields.List(fields.Dict())
    diagram = fields.String(metadata={"description": "Mermaid stateDiagram-v2 text"})


class DefinitionQuery(Schema):
    version = fields.Integer(validate=validate.Range(min=1))
    lang = fields.String(load_default="zh-CN", validate=validate.OneOf(["zh-CN", "en"]))


class TaskItem(WorkflowInstanceSchema):
    definition_title = fields.Dict(keys=fields.String(), values=fields.String())


class TaskPage(Schema):
    items = fields.List(fields.Nested(TaskItem), required=True)
    count = fields.Integer()


class HealthSchema(Schema):
    status = fields.String()
    checks = fields.Dict()
