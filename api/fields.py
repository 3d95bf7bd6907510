"""Marshmallow fields shared by the API's schemas, and the schema base every one of them
uses: its fields' messages carry codes and params (``workflow.field_messages``), so a
console can word them in the reader's language.

Text, dates and amounts come from ``workflow.platform.hygiene``, the rules every door shares:
``Text`` for a single line (names, codes, filters), ``FreeText`` for what a person writes
(comments, reasons), ``Day`` for calendar dates from 1900 to 2100.
"""

from __future__ import annotations

import datetime as dt
from typing import Any

from marshmallow import ValidationError, fields

from workflow.field_messages import Schema
from workflow.platform.hygiene import DAY_METADATA, Day, FreeText, Text, day_problem

__all__ = ["Day", "FreeText", "Schema", "Text", "UtcDateTime"]


class UtcDateTime(fields.DateTime):
    """Timestamps are stored as naive UTC; say so on the wire (``…+00:00``). Inputs lie
    from 1900 to 2100, like every date (and so convert to UTC without overflowing)."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {**DAY_METADATA, **(kwargs.get("metadata") or {})}
        super().__init__(**kwargs)

    def _serialize(self, value: Any, attr: str | None, obj: Any, **kwargs: Any) -> Any:
        if isinstance(value, dt.datetime) and value.tzinfo is None:
            value = value.replace(tzinfo=dt.UTC)
        return super()._serialize(value, attr, obj, **kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> dt.datetime:
        parsed = super()._deserialize(value, attr, data, **kwargs)
        problem = day_problem(parsed.date())
        if problem is not None:
            raise ValidationError(problem)
        if parsed.tzinfo is not None:
            parsed = parsed.astimezone(dt.UTC).replace(tzinfo=None)
        return parsed
