"""Safe expressions (CEL) for transition conditions: compiled once, never ``eval``."""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

import cel

from workflow.errors import Unprocessable


class Expression:
    """A compiled CEL expression evaluated against plain JSON-like data."""

    __slots__ = ("source", "_program", "reads_payload")

    def __init__(self, source: str) -> None:
        """Compile ``source``.

        Raises:
            ValueError: the expression does not parse.
        """
        self.source = source
        self._program = cel.compile(source)
        # Whether it looks at the action's input: if not, it can be judged before the action
        # (so that only the actions possible now are offered).
        self.reads_payload = re.search(r"\bpayload\b", source) is not None

    def evaluate(self, context: Mapping[str, Any]) -> Any:
        """Evaluate; a missing key or a type error means the expression cannot hold.

        Raises:
            Unprocessable: the expression failed on this data.
        """
        try:
            return self._program.execute(dict(context))
        except (KeyError, TypeError, ValueError, RuntimeError) as exc:
            raise Unprocessable(f"condition {self.source!r} could not be evaluated: {exc}") from exc

    def holds(self, context: Mapping[str, Any]) -> bool:
        """True when the expression evaluates to boolean true; missing data counts as false."""
        try:
            return self._program.execute(dict(context)) is True
        except (KeyError, TypeError, ValueError, RuntimeError):
            return False

    def __repr__(self) -> str:
        return f"Expression({self.source!r})"
