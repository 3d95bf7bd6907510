"""Marshmallow's field messages as codes with params, declared once for every schema.

A schema built on :class:`Schema` (the client fields, a transition's payload, the API's
inputs) raises messages that are :class:`~workflow.errors.Message`: the same English
marshmallow writes, with a stable code (``length.max``) and the params that fill it
(``max``), so that a console words them in the reader's language without reading the
sentence. Messages a schema sets itself stay as they are (give those a code where they
are written).
"""

from __future__ import annotations

from typing import Any

from marshmallow import Schema as _Schema
from marshmallow import fields, validate

from workflow.errors import Message

# (the closest marshmallow field class that has the key, key) → code; classes are checked
# most specific first, so an Integer's ``invalid`` is ``integer.invalid``, not ``number.invalid``.
_FIELD_CODES: list[tuple[type[fields.Field], str, str]] = [
    (fields.Boolean, "invalid", "boolean.invalid"),
    (fields.Integer, "invalid", "integer.invalid"),
    (fields.Number, "invalid", "number.invalid"),
    (fields.Number, "too_large", "number.too_large"),
    (fields.Decimal, "special", "number.special"),
    (fields.Float, "special", "number.special"),
    (fields.NaiveDateTime, "invalid", "datetime.invalid"),
    (fields.AwareDateTime, "invalid", "datetime.invalid"),
    (fields.Date, "invalid", "date.invalid"),
    (fields.Time, "invalid", "time.invalid"),
    (fields.DateTime, "invalid", "datetime.invalid"),
    (fields.Email, "invalid", "email.invalid"),
    (fields.Url, "invalid", "url.invalid"),
    (fields.String, "invalid", "string.invalid"),
    (fields.String, "invalid_utf8", "string.invalid"),
    (fields.List, "invalid", "list.invalid"),
    (fields.Tuple, "invalid", "list.invalid"),
    (fields.Mapping, "invalid", "mapping.invalid"),
    (fields.Nested, "type", "field.type"),
    (fields.Field, "required", "field.required"),
    (fields.Field, "null", "field.null"),
    (fields.Field, "validator_failed", "field.invalid"),
    # a date or time with or without a zone where the other was wanted; one that cannot be
    # written out (never an input's fault)
    (fields.Field, "invalid_awareness", "field.invalid"),
    (fields.Field, "format", "field.invalid"),
]


def field_code(field: fields.Field, key: str) -> str:
    """The code of ``field``'s message ``key`` (``field.<key>`` when none is declared)."""
    for cls, name, code in _FIELD_CODES:
        if name == key and isinstance(field, cls):
            return code
    return f"field.{key}"


def _coded(message: Any, code: str, **params: Any) -> Any:
    """``message`` as a Message with ``code``, unless it already has a code."""
    if isinstance(message, str) and not isinstance(message, Message):
        return Message(code, message, **params)
    return message


def _code_validator(v: Any) -> None:
    if isinstance(v, validate.Length):
        v.message_min = _coded(v.message_min, "length.min")
        v.message_max = _coded(v.message_max, "length.max")
        v.message_all = _coded(v.message_all, "length.between")
        v.message_equal = _coded(v.message_equal, "length.equal")
    elif isinstance(v, validate.Range):
        ops = {"min_inclusive": v.min_inclusive, "max_inclusive": v.max_inclusive}
        v.message_min = _coded(v.message_min, "range.min", **ops)
        v.message_max = _coded(v.message_max, "range.max", **ops)
        v.message_all = _coded(v.message_all, "range.between", **ops)
    elif isinstance(v, validate.OneOf):
        v.error = _coded(v.error, "choice.one_of", choices=[str(c) for c in v.choices])
    elif isinstance(v, validate.Regexp):
        v.error = _coded(v.error, "regexp.mismatch")
    elif isinstance(v, validate.Email):
        v.error = _coded(v.error, "email.invalid")
    elif isinstance(v, validate.URL):
        v.error = _coded(v.error, "url.invalid")


def code_field(field: fields.Field) -> fields.Field:
    """Give ``field`` (and the fields and validators inside it) coded messages."""
    field.error_messages = {
        key: _coded(text, field_code(field, key)) for key, text in field.error_messages.items()
    }
    for v in field.validators:
        _code_validator(v)
    for inner in (
        getattr(field, "inner", None),
        getattr(field, "key_field", None),
        getattr(field, "value_field", None),
        *(getattr(field, "tuple_fields", None) or ()),
    ):
        if isinstance(inner, fields.Field):
            code_field(inner)
    return field


class Schema(_Schema):
    """A marshmallow schema whose fields' and validators' messages carry codes."""

    error_messages = {  # noqa: RUF012 - marshmallow merges this class attribute
        "unknown": Message("field.unknown", "Unknown field."),
        "type": Message("field.type", "Invalid input type."),
    }

    def on_bind_field(self, field_name: str, field_obj: fields.Field) -> None:
        code_field(field_obj)
