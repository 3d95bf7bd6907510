"""Durations as written in definitions: ``90s``, ``30m``, ``48h``, ``2d``, ``1w``, ``1d12h``."""

from __future__ import annotations

import re
from datetime import timedelta

_PART = re.compile(r"(\d+)([smhdw])")
_UNITS = {"s": "seconds", "m": "minutes", "h": "hours", "d": "days", "w": "weeks"}


def parse_duration(text: str | int) -> timedelta:
    """Parse a duration; a bare integer means seconds.

    Raises:
        ValueError: the text is not a positive duration such as ``48h``.
    """
    if isinstance(text, int) and not isinstance(text, bool):
        if text <= 0:
            raise ValueError("a duration must be positive")
        return timedelta(seconds=text)
    if not isinstance(text, str):
        raise ValueError(f"expected a duration such as '48h', got {text!r}")
    compact = text.replace(" ", "").lower()
    if not compact or _PART.sub("", compact):
        raise ValueError(f"{text!r} is not a duration; write e.g. '90s', '30m', '48h', '2d', '1w'")
    total = timedelta()
    for amount, unit in _PART.findall(compact):
        total += timedelta(**{_UNITS[unit]: int(amount)})
    if total <= timedelta():
        raise ValueError("a duration must be positive")
    return total
