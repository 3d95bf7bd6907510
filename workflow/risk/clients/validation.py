"""Validation of client fields, shared by the API, batch import and sensitive edits.

One marshmallow schema says what a valid client field is; every door into the
client record (create, PATCH, spreadsheet rows, approved change requests) uses
it, so a rule cannot be enforced in one place and forgotten in another.
Returned values are ready for the model: money as ``Decimal``, dates as
``date``, lists and maps as plain JSON. Text, dates and amounts follow
``workflow.platform.hygiene`` (no control or bidirectional characters, 1900–2100, below 10^17).
"""

from __future__ import annotations

import re
from typing import Any

from marshmallow import RAISE, ValidationError, fields, pre_load, validate, validates_schema

from workflow.errors import Message, ValidationFailed
from workflow.field_messages import Schema
from workflow.platform.hygiene import MAX_AMOUNT, Day, Text, amount_range
from workflow.risk.clients.creditcode import normalize_credit_code, validate_credit_code
from workflow.risk.clients.idnumber import normalize_id_number, validate_id_number
from workflow.risk.clients.model import (
    CHANGEABLE_FIELDS,
    CLIENT_TYPES,
    CONSENT_BASES,
    NATURAL_PERSON,
    OWNERSHIP_TYPES,
    RATINGS,
    RISK_LEVELS,
)
from workflow.risk.screening.rules import PAYMENT_HISTORIES

_PHONE = re.compile(r"^\+?[0-9][0-9 ()\-]{4,24}$")
_ACCOUNT = re.compile(r"^[0-9A-Z]{8,34}$")


class _Compact(Text):
    """Text with spaces and hyphens removed and upper-cased (account and ID numbers)."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        return re.sub(r"[\s\-]", "", text).upper()


class _CreditCode(Text):
    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = validate_credit_code(text)
        if problem is not None:
            raise ValidationError(problem)
        return normalize_credit_code(text)


class _IdNumber(Text):
    """A resident identity number, checked with its GB 11643-1999 check character."""

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = validate_id_number(text)
        if problem is not None:
            raise ValidationError(problem)
        return normalize_id_number(text)


def _money(**kwargs: Any) -> fields.Decimal:
    return fields.Decimal(places=2, allow_nan=False, validate=amount_range(), **kwargs)


class ContactSchema(Schema):
    class Meta:
        unknown = RAISE

    name = Text(required=True, validate=validate.Length(min=1, max=64))
    phone = Text(
        load_default=None,
        allow_none=True,
        validate=validate.Regexp(
            _PHONE,
            error=Message(
                "client.phone",
                "Use digits, optionally starting with +, e.g. 13812341234 or +86 10 8888 6666.",
            ),
        ),
    )
    email = fields.Email(load_default=None, allow_none=True, validate=validate.Length(max=254))


class ContractSchema(Schema):
    class Meta:
        unknown = RAISE

    number = Text(required=True, validate=validate.Length(min=1, max=64))
    amount = fields.Float(
        load_default=None,
        allow_none=True,
        allow_nan=False,
        validate=validate.Range(
            min=0,
            max=MAX_AMOUNT,
            max_inclusive=False,
            error=Message("client.money", "Must be an amount in yuan from 0 up to 10^17."),
        ),
    )
    start = Day(required=True)
    end = Day(required=True)

    @validates_schema
    def _end_after_start(self, data: dict[str, Any], **kwargs: Any) -> None:
        if data.get("start") and data.get("end") and data["end"] < data["start"]:
            raise ValidationError(
                Message("contract.ends_before_start", "The contract ends before it starts."), "end"
            )


class FactsSchema(Schema):
    """Scorecard inputs that are not on the form (the rest come from the record)."""

    class Meta:
        unknown = RAISE

    litigation_count = fields.Integer(strict=True, validate=validate.Range(min=0, max=1_000_000))
    negative_news_count = fields.Integer(strict=True, validate=validate.Range(min=0, max=1_000_000))
    payment_history = Text(validate=validate.OneOf(PAYMENT_HISTORIES))


class ClientFieldsSchema(Schema):
    """Every client field a person may write (status, scores and versions are the system's)."""

    class Meta:
        unknown = RAISE

    name = Text(required=True, validate=validate.Length(min=1, max=200))
    client_type = Text(validate=validate.OneOf(CLIENT_TYPES))
    # Required for enterprises and 个体工商户, absent for natural persons (checked with the
    # type by :func:`check_identity`, since a PATCH may give either alone).
    credit_code = _CreditCode(allow_none=True)
    legal_representative = Text(allow_none=True, validate=validate.Length(min=1, max=64))
    id_number = _IdNumber(allow_none=True)
    consent_basis = Text(allow_none=True, validate=validate.OneOf(CONSENT_BASES))
    consent_at = Day(allow_none=True)
    industry = Text(allow_none=True, validate=validate.Length(max=64))
    region = Text(allow_none=True, validate=validate.Length(max=64))
    registered_capital = _money(allow_none=True)
    established_on = Day(allow_none=True)
    ownership_type = Text(allow_none=True, validate=validate.OneOf(OWNERSHIP_TYPES))
    state_ownership_pct = fields.Decimal(
        places=2,
        allow_nan=False,
        allow_none=True,
        validate=validate.Range(
            min=0,
            max=100,
            error=Message("client.percentage", "Must be a percentage from 0 to 100."),
        ),
    )
    contacts = fields.List(
        fields.Nested(ContactSchema), allow_none=True, validate=validate.Length(max=20)
    )
    bank_account = _Compact(
        allow_none=True,
        validate=validate.Regexp(
            _ACCOUNT,
            error=Message(
                "client.bank_account",
                "Use 8 to 34 digits or capital letters (spaces and hyphens are ignored).",
            ),
        ),
    )
    credit_limit = _money(allow_none=True)
    rating = Text(allow_none=True, validate=validate.OneOf(RATINGS))
    risk_level = Text(allow_none=True, validate=validate.OneOf(RISK_LEVELS))
    blacklisted = fields.Boolean(truthy={True, "true"}, falsy={False, "false"})
    owner = Text(validate=validate.Length(min=1, max=64))
    tags = fields.List(
        Text(validate=validate.Length(min=1, max=32)), validate=validate.Length(max=50)
    )
    contracts = fields.List(fields.Nested(ContractSchema), validate=validate.Length(max=200))
    facts = fields.Nested(FactsSchema)

    @pre_load
    def _no_nul_characters(self, data: Any, **kwargs: Any) -> Any:
        """PostgreSQL cannot store NUL in text; refused by name on every database, here."""
        if isinstance(data, dict):
            bad = sorted(str(name) for name, value in data.items() if _holds_nul(value))
            if bad:
                raise ValidationError(
                    {
                        name: [Message("field.no_nul", "Must not contain NUL characters.")]
                        for name in bad
                    }
                )
        return data


def _holds_nul(value: Any) -> bool:
    pending = [value]
    while pending:
        item = pending.pop()
        if isinstance(item, str):
            if "\x00" in item:
                return True
        elif isinstance(item, dict):
            pending.extend(item.values())
            pending.extend(item.keys())
        elif isinstance(item, list | tuple):
            pending.extend(item)
    return False


_SCHEMA = ClientFieldsSchema()
# Only top-level fields may be left out: a contact or contract given must still be whole.
_TOP_LEVEL = tuple(_SCHEMA.fields)


def _plain_items(cleaned: dict[str, Any]) -> dict[str, Any]:
    """JSON columns get JSON values (dates as ISO text)."""
    if cleaned.get("contracts") is not None:
        cleaned["contracts"] = [
            {**c, "start": c["start"].isoformat(), "end": c["end"].isoformat()}
            for c in cleaned["contracts"]
        ]
    if cleaned.get("contacts") is not None:
        cleaned["contacts"] = [dict(c) for c in cleaned["contacts"]]
    if "tags" in cleaned:
        cleaned["tags"] = sorted(set(cleaned["tags"] or []))
    return cleaned


def validate_client_fields(data: dict[str, Any], *, partial: bool) -> dict[str, Any]:
    """Check client fields and return the cleaned values (``partial``: only those given;
    whole: the type defaults to ``enterprise`` and the record must identify the client as its
    type requires, see :func:`check_identity`).

    Raises:
        ValidationFailed: ``extra['errors']`` maps each bad field to its messages.
    """
    if not isinstance(data, dict):
        raise ValidationFailed(
            "client fields must be a JSON object",
            errors={"_body": [Message("client.fields_object", "Send an object of client fields.")]},
        )
    try:
        cleaned = _SCHEMA.load(data, partial=_TOP_LEVEL if partial else False)
    except ValidationError as exc:
        errors = exc.normalized_messages()
        raise ValidationFailed(
            "some client fields are invalid: " + ", ".join(sorted(map(str, errors))),
            errors=errors,
        ) from exc
    if not partial:
        cleaned.setdefault("client_type", "enterprise")
        check_identity(cleaned)
    return _plain_items(cleaned)


def _missing(field: str) -> dict[str, list[str]]:
    return {field: [Message("field.required", "Missing data for required field.")]}


def check_identity(values: dict[str, Any]) -> None:
    """Check that a client's merged fields identify it as its type requires: a credit code
    for an enterprise or 个体工商户; an identity number, a consent basis and its date (PIPL)
    and no credit code for a natural person.

    Raises:
        ValidationFailed: per field.
    """
    errors: dict[str, list[str]] = {}
    if values.get("client_type") == NATURAL_PERSON:
        for field in ("id_number", "consent_basis", "consent_at"):
            if not values.get(field):
                errors.update(_missing(field))
        if values.get("credit_code"):
            errors["credit_code"] = [
                Message(
                    "client.person_credit_code",
                    "A natural person has no credit code; give the identity number instead.",
                )
            ]
    elif not values.get("credit_code"):
        errors.update(_missing("credit_code"))
    if errors:
        raise ValidationFailed(
            "some client fields are invalid: " + ", ".join(sorted(errors)), errors=errors
        )


def validate_sensitive_change(field: str, value: Any) -> Any:
    """Check a new value for one of :data:`CHANGEABLE_FIELDS` and return it cleaned.

    Raises:
        ValidationFailed: not a sensitive field, or the value is invalid.
    """
    if field not in CHANGEABLE_FIELDS:
        raise ValidationFailed(
            f"{field!r} is not a sensitive field; change requests cover "
            f"{', '.join(CHANGEABLE_FIELDS)} (edit other fields with PATCH /api/v1/clients/{{id}})",
            errors={field: [Message("change.not_sensitive", "Not a sensitive field.")]},
        )
    return validate_client_fields({field: value}, partial=True)[field]
