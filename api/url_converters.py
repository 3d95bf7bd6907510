"""URL converters: ``<int:…>`` ids are bounded to a 64-bit signed integer.

An unbounded id (``/api/v1/workflows/92117218005221023278495``) reached the
database and failed there (a 500 on SQLite, found by schemathesis); bounded, such
a URL simply matches no route (404).
"""

from __future__ import annotations

from typing import Any

from werkzeug.routing import IntegerConverter

MAX_ID = 2**63 - 1


class BoundedIntConverter(IntegerConverter):
    def __init__(self, map: Any, *args: Any, **kwargs: Any) -> None:  # noqa: A002
        kwargs.setdefault("max", MAX_ID)
        super().__init__(map, *args, **kwargs)
