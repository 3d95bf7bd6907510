"""Marshmallow fields shared by the API's schemas, and the schema base every one of them
uses: its fields' messages carry codes and params (``workflow.field_messages``), so a
console can word them in the reader's language.

Text, dates and amounts come from ``workflow.platform.hygiene``, the rules every door shares:
``Text`` for a single line (names, codes, filters), ``FreeText`` for what a person writes
(comments, reasons), ``Day`` for calendar dates from 1900 to 2100, ``UtcDateTime`` for
moments (naive UTC inside, ``+00:00`` on the wire).
"""

from __future__ import annotations

from workflow.field_messages import Schema
from workflow.platform.hygiene import Day, FreeText, Text, UtcDateTime

__all__ = ["Day", "FreeText", "Schema", "Text", "UtcDateTime"]
