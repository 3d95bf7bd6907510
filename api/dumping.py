"""A marshmallow schema's ``dump`` compiled once into a plain function, for the hot path.

``schema.dump`` walks its fields through ``Field.serialize`` (attribute access, defaults,
error bookkeeping) on every call: for an approve's answer that was ~6 % of the request's
CPU. :func:`compile_dump` reads the schema's fields once and returns a function that calls
each field's own ``_serialize`` on the value (so a field's formatting is the schema's),
skipping it where the value already is what the field would return (a ``str`` for a
string field, an ``int`` for an integer field, anything for a field that passes its value
through). A schema with pre/post-dump hooks, ``many`` or ``only``/``exclude`` is not
compiled: its own ``dump`` is returned. ``tests/api/test_dumping.py`` compares both on
real answers.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any

from marshmallow import Schema, fields, missing

from workflow.platform.hygiene import UtcDateTime

Dump = Callable[[dict[str, Any]], dict[str, Any]]
_PASS = fields.Field._serialize  # the base: returns the value as it is
_STRING = fields.String._serialize
_NUMBER = fields.Number._serialize


def compile_dump(schema: Schema) -> Dump:
    """``schema.dump`` of a mapping, as a function built once."""
    if schema._hooks and any(schema._hooks.values()):  # type: ignore[attr-defined]
        return schema.dump  # type: ignore[return-value]
    if schema.many or schema.only is not None or schema.exclude:
        return schema.dump  # type: ignore[return-value]
    steps = [
        (field.attribute or name, field.data_key or name, field, _converter(field))
        for name, field in schema.dump_fields.items()
    ]

    def dump(obj: dict[str, Any]) -> dict[str, Any]:
        out: dict[str, Any] = {}
        for attr, key, field, convert in steps:
            if attr in obj:
                out[key] = convert(obj[attr], attr, obj)
            else:  # the field's own default handling
                value = field.serialize(attr, obj)
                if value is not missing:
                    out[key] = value
        return out

    return dump


def _converter(field: fields.Field) -> Callable[[Any, str, Any], Any]:
    serialize = type(field)._serialize
    if serialize is _PASS:
        return lambda value, attr, obj: value
    if serialize is _STRING:
        own = field._serialize
        return lambda value, attr, obj: value if type(value) is str else own(value, attr, obj)
    if isinstance(field, fields.Integer) and serialize is _NUMBER and not field.as_string:
        own = field._serialize
        return lambda value, attr, obj: value if type(value) is int else own(value, attr, obj)
    if type(field) is UtcDateTime and field.format in (None, "iso"):
        own = field._serialize
        # a stored (naive UTC) time as UtcDateTime writes it: ISO 8601 with +00:00
        return lambda value, attr, obj: (
            value.isoformat() + "+00:00"
            if type(value) is datetime and value.tzinfo is None
            else own(value, attr, obj)
        )
    if type(field) is fields.Nested and not field.many and isinstance(field.schema, Schema):
        inner = compile_dump(field.schema)
        if not field.schema.many:
            return lambda value, attr, obj: None if value is None else inner(value)
    return field._serialize
