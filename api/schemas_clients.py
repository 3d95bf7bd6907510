"""Marshmallow schemas of the client archive API (inputs refuse unknown fields)."""

from __future__ import annotations

from marshmallow import fields, validate

from workflow.risk.clients.model import CLIENT_TYPES, RATINGS, RISK_LEVELS, STATUSES
from workflow.risk.clients.validation import ClientFieldsSchema

from .fields import FreeText, Schema
from .schemas import PageQuery


class ClientCreate(ClientFieldsSchema):
    """A new client; ``owner`` defaults to the sales user creating it."""


class ClientPatch(ClientFieldsSchema):
    """Non-sensitive fields to change; sensitive ones need a change request (409)."""

    expected_version = fields.Integer(validate=validate.Range(min=1), load_default=None)


class ClientQuery(PageQuery):
    status = fields.String(validate=validate.OneOf(STATUSES))
    client_type = fields.String(validate=validate.OneOf(CLIENT_TYPES))
    rating = fields.String(validate=validate.OneOf(RATINGS))
    risk_level = fields.String(validate=validate.OneOf(RISK_LEVELS))
    owner = fields.String(validate=validate.Length(min=1, max=64))
    q = fields.String(
        validate=validate.Length(min=1, max=100),
        metadata={"description": "Text in the name or the credit code"},
    )


class ContactOut(Schema):
    name = fields.String()
    phone = fields.String(allow_none=True)
    email = fields.String(allow_none=True)


class ClientSchema(Schema):
    """A client as the caller's role may see it (masked or hidden values are null or starred)."""

    id = fields.Integer(required=True)
    client_type = fields.String(
        required=True, metadata={"description": "enterprise, individual_business or natural_person"}
    )
    name = fields.String(required=True)
    credit_code = fields.String(
        allow_none=True, metadata={"description": "null for a natural person"}
    )
    legal_representative = fields.String(allow_none=True)
    id_number = fields.String(
        allow_none=True,
        metadata={"description": "A natural person's resident identity number (masked by role)"},
    )
    consent_basis = fields.String(allow_none=True)
    consent_at = fields.String(allow_none=True)
    industry = fields.String(allow_none=True)
    region = fields.String(allow_none=True)
    registered_capital = fields.Float(allow_none=True)
    established_on = fields.String(allow_none=True)
    ownership_type = fields.String(allow_none=True)
    state_ownership_pct = fields.Float(allow_none=True)
    contacts = fields.List(fields.Nested(ContactOut), allow_none=True)
    bank_account = fields.String(allow_none=True)
    credit_limit = fields.Float(allow_none=True)
    rating = fields.String(allow_none=True)
    risk_score = fields.Float(allow_none=True)
    risk_level = fields.String(allow_none=True)
    status = fields.String(required=True)
    owner = fields.String(required=True)
    blacklisted = fields.Boolean(allow_none=True)
    tags = fields.List(fields.String(), allow_none=True)
    contracts = fields.List(fields.Dict(), allow_none=True)
    facts = fields.Dict(allow_none=True)
    screening = fields.Dict(
        allow_none=True,
        metadata={
            "description": "The last screening: rating, fired rules, each indicator's contribution"
        },
    )
    version = fields.Integer()
    created_by = fields.String(allow_none=True)
    created_at = fields.String(allow_none=True)
    updated_at = fields.String(allow_none=True)
    erased_at = fields.String(
        allow_none=True,
        metadata={"description": "When the personal data was erased (PIPL); null if never"},
    )


class ClientPage(Schema):
    items = fields.List(fields.Nested(ClientSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class AdmissionBody(Schema):
    comment = FreeText(validate=validate.Length(max=4000), load_default=None, allow_none=True)
    submit = fields.Boolean(
        load_default=True,
        metadata={"description": "Submit at once (default); false leaves the case in draft"},
    )


class ImportQuery(Schema):
    dry_run = fields.Boolean(load_default=False)
    submit = fields.Boolean(
        load_default=False, metadata={"description": "Start an admission for every imported client"}
    )


class ImportFile(Schema):
    file = fields.Raw(required=True, metadata={"type": "string", "format": "binary"})


class ImportRowError(Schema):
    row = fields.Integer()
    field = fields.String()
    messages = fields.List(fields.String())


class ImportReport(Schema):
    dry_run = fields.Boolean()
    rows = fields.Integer()
    created = fields.Integer()
    updated = fields.Integer()
    unchanged = fields.Integer()
    submitted = fields.Integer()
    errors = fields.List(fields.Nested(ImportRowError))
    sensitive_differences = fields.List(fields.Dict())


class ReportQuery(Schema):
    format = fields.String(
        load_default="json",
        validate=validate.OneOf(("json", "pdf", "html")),
        metadata={"description": "json (default), pdf (a download) or html (print-ready)"},
    )
    lang = fields.String(
        validate=validate.OneOf(("zh-CN", "en")),
        metadata={"description": "Language of a pdf or html report; else Accept-Language"},
    )


class ClientReport(Schema):
    """The client's portrait and risk report, masked by the reader's role: the current
    rating with the explanation that states it (null when none does), tags (manual and
    system), registration data and events, litigation, alerts, cases, rating history,
    contracts."""

    client = fields.Nested(ClientSchema, required=True)
    rating = fields.Dict(required=True)
    tags = fields.Dict(required=True)
    background = fields.Dict(required=True)
    legal = fields.Dict(required=True)
    events = fields.List(fields.Dict(), required=True)
    alerts = fields.List(fields.Dict(), required=True)
    cases = fields.List(fields.Dict(), required=True)
    ratings = fields.List(fields.Dict(), required=True)
    contracts = fields.List(fields.Dict(), required=True)
    generated_at = fields.String(required=True)


class PersonalDataExport(Schema):
    """Everything held about a client, unmasked (PIPL data-subject export)."""

    client_id = fields.Integer(required=True)
    generated_at = fields.String(required=True)
    generated_by = fields.String(required=True)
    record = fields.Dict(required=True)
    consent = fields.Dict(required=True)
    contracts = fields.List(fields.Dict(), required=True)
    screening = fields.Dict(allow_none=True)
    events = fields.List(fields.Dict(), required=True)
    tags = fields.List(fields.Dict(), required=True)
    ratings = fields.List(fields.Dict(), required=True)
    alerts = fields.List(fields.Dict(), required=True)
    cases = fields.List(fields.Dict(), required=True)
    evidence = fields.List(fields.Dict(), required=True)
    audit = fields.List(fields.Dict(), required=True)
    reads = fields.List(fields.Dict(), required=True)
