"""Marshmallow fields shared by the API's schemas, and the schema base every one of them
uses: its fields' messages carry codes and params (``workflow.field_messages``), so a
console can word them in the reader's language."""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import fields

from workflow.field_messages import Schema

__all__ = ["Schema", "UtcDateTime"]


class UtcDateTime(fields.DateTime):
    """Timestamps are stored as naive UTC; say so on the wire (``…+00:00``)."""

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        return parsed
