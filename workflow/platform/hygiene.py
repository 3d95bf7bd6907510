"""Input hygiene: the values no door may store, checked alike by every one of them (API
bodies and query strings, console forms, spreadsheet import, definitions' payloads).

- Text holds no NUL or other control character (tabs and line breaks only in free text
  such as comments), no bidirectional embedding, override or isolate character (they
  reorder what a reader sees: a name in a list or the audit trail could spoof another),
  and no lone UTF-16 surrogate (not Unicode: it cannot be encoded, stored on PostgreSQL
  or sent back in a response). PostgreSQL refuses NUL where SQLite would store it, so
  the rule is checked here, the same on both.
- Dates lie from 1900-01-01 to 2100-12-31; amounts are finite and below 10^17 yuan (the
  money columns' bound); whole numbers fit 64 bits.

Refusals are field messages (``Message``) with a stable code and the character's code
point, so a console can word them in its reader's language.
"""

from __future__ import annotations

import datetime as dt
import json
import math
import re
from typing import Any

from marshmallow import ValidationError, fields, validate

from workflow.errors import Message, ValidationFailed

FIRST_DAY = dt.date(1900, 1, 1)
LAST_DAY = dt.date(2100, 12, 31)
MAX_AMOUNT = 10**17  # exclusive: Numeric(19, 2) money columns
MAX_INTEGER = 2**63 - 1
# Longer integer literals are refused while parsing JSON: no field takes one, and past
# 4,300 digits Python's int() raises (a ValueError inside json.loads, not a syntax error).
MAX_DIGITS = 64

# Character classes as regular-expression source (``\\uXXXX`` escapes), which Python and the
# OpenAPI document's ECMA-262 patterns read alike: C0 but tab, LF and CR, DEL and C1;
# bidirectional embeddings, overrides and isolates. One line also excludes tab, LF, CR and
# the line and paragraph separators. Surrogates are checked but left out of the document's
# patterns: a string of characters cannot hold one, and regex engines refuse the range.
_FREE_TEXT_EXCLUDES = (
    r"\u0000-\u0008\u000b\u000c\u000e-\u001f\u007f-\u009f"
    r"\u202a-\u202e\u2066-\u2069"
)
_LINE_EXCLUDES = r"\u0009\u000a\u000d\u2028\u2029" + _FREE_TEXT_EXCLUDES
_SURROGATES = r"\ud800-\udfff"
_UNSAFE_IN_FREE_TEXT = re.compile(f"[{_FREE_TEXT_EXCLUDES}{_SURROGATES}]")
_UNSAFE_IN_A_LINE = re.compile(f"[{_LINE_EXCLUDES}{_SURROGATES}]")
FREE_TEXT_PATTERN = f"^[^{_FREE_TEXT_EXCLUDES}]*$"
LINE_PATTERN = f"^[^{_LINE_EXCLUDES}]*$"


def text_problem(value: str, *, multiline: bool = False) -> Message | None:
    """Why ``value`` may not be stored, or None; ``multiline`` allows tabs and line breaks."""
    match = (_UNSAFE_IN_FREE_TEXT if multiline else _UNSAFE_IN_A_LINE).search(value)
    if match is None:
        return None
    char = match.group()
    code = f"U+{ord(char):04X}"
    if "\ud800" <= char <= "\udfff":
        return Message(
            "text.surrogate",
            f"Not valid Unicode text: a lone UTF-16 surrogate ({code}).",
            char=code,
        )
    if "\u202a" <= char <= "\u202e" or "\u2066" <= char <= "\u2069":
        return Message(
            "text.bidi",
            f"Must not contain bidirectional formatting characters ({code}).",
            char=code,
        )
    if char in "\t\n\r\u2028\u2029":
        return Message(
            "text.line_break",
            f"Must be a single line: no line breaks, tabs or other control characters ({code}).",
            char=code,
        )
    return Message("text.control", f"Must not contain control characters ({code}).", char=code)


_WHOLE_NUMBER = re.compile(r"[0-9]{1,18}")


def whole_number(text: str) -> int | None:
    """A whole number typed as text (ASCII digits, at most 18: a 64-bit id or count), or
    None; ``str.isdigit`` also accepts "²" and "٣", and ``int()`` raises past 4,300 digits."""
    return int(text) if _WHOLE_NUMBER.fullmatch(text) else None


# How the OpenAPI document says it (a date's year, or a timestamp's local year, 1900-2100).
DAY_PATTERN = r"^(19[0-9]{2}|20[0-9]{2}|2100)-"
DAY_METADATA = {"pattern": DAY_PATTERN, "description": "From 1900-01-01 to 2100-12-31."}


def day_problem(day: dt.date) -> Message | None:
    if FIRST_DAY <= day <= LAST_DAY:
        return None
    return Message("date.range", "Must be a date from 1900-01-01 to 2100-12-31.")


class Text(fields.String):
    """A single line of text (names, codes, identifiers): see :func:`text_problem`."""

    multiline = False

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        if not any(isinstance(v, validate.Regexp) for v in self.validators):  # already stricter
            pattern = FREE_TEXT_PATTERN if self.multiline else LINE_PATTERN
            self.metadata = {"pattern": pattern, **self.metadata}

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        text = super()._deserialize(value, attr, data, **kwargs)
        problem = text_problem(text, multiline=self.multiline)
        if problem is not None:
            raise ValidationError(problem)
        return text


class FreeText(Text):
    """Text a person writes (comments, reasons, details): tabs and line breaks allowed."""

    multiline = True


class Day(fields.Date):
    """A calendar date from 1900-01-01 to 2100-12-31."""

    def __init__(self, **kwargs: Any) -> None:
        kwargs["metadata"] = {**DAY_METADATA, **(kwargs.get("metadata") or {})}
        super().__init__(**kwargs)

    def _deserialize(self, value: Any, attr: str | None, data: Any, **kwargs: Any) -> Any:
        day = super()._deserialize(value, attr, data, **kwargs)
        problem = day_problem(day)
        if problem is not None:
            raise ValidationError(problem)
        return day


def amount_range(**kwargs: Any) -> validate.Range:
    """0 up to (not including) :data:`MAX_AMOUNT`: every amount in yuan."""
    return validate.Range(
        min=0,
        max=MAX_AMOUNT,
        max_inclusive=False,
        error=Message("client.money", "Must be an amount in yuan from 0 up to 10^17."),
        **kwargs,
    )


class _Refused:
    """A JSON number the parser will not hand on; :func:`json_problems` reports it."""

    __slots__ = ("message",)

    def __init__(self, message: Message) -> None:
        self.message = message


_NOT_FINITE = Message("number.not_finite", "Must be a finite number (no NaN or infinity).")


def _parse_int(text: str) -> Any:
    digits = len(text) - text.startswith("-")
    if digits > MAX_DIGITS:
        return _Refused(
            Message(
                "number.too_long",
                f"A number of {digits} digits is too long; use at most {MAX_DIGITS} digits.",
                digits=digits,
                max=MAX_DIGITS,
            )
        )
    return int(text)


def _parse_float(text: str) -> Any:
    value = float(text)
    return value if math.isfinite(value) else _Refused(_NOT_FINITE)


def _parse_constant(text: str) -> Any:
    return _Refused(_NOT_FINITE)  # NaN, Infinity, -Infinity: not JSON, though Python reads them


# One decoder for every body (json.loads with hooks builds a decoder and its scanner per call)
_DECODER = json.JSONDecoder(
    parse_int=_parse_int, parse_float=_parse_float, parse_constant=_parse_constant
)


def json_problems(document: Any, limit: int = 10) -> dict[str, Any]:
    """Messages for every string (key or value) and number of a parsed JSON document that
    may not be stored, at most ``limit``, nested as marshmallow nests its errors
    (``{"contacts": {"0": {"name": [...]}}}``); the whole document is ``_body``."""
    found: dict[tuple[str, ...], list[Message]] = {}
    stack: list[tuple[tuple[str, ...], Any]] = [((), document)]
    while stack and len(found) < limit:
        path, value = stack.pop()
        problem: Message | None = None
        if isinstance(value, str):
            problem = text_problem(value, multiline=True)
        elif isinstance(value, _Refused):
            problem = value.message
        elif isinstance(value, dict):
            for key, item in reversed(value.items()):
                key_problem = text_problem(key)
                if key_problem is not None:
                    found.setdefault((*path, key), [key_problem])
                else:
                    stack.append(((*path, key), item))
        elif isinstance(value, list):
            stack.extend(((*path, str(i)), item) for i, item in reversed(list(enumerate(value))))
        if problem is not None:
            found[path or ("_body",)] = [problem]
    nested: dict[str, Any] = {}
    for path, messages in found.items():
        node = nested
        for part in path[:-1]:
            node = node.setdefault(part, {})
        node[path[-1]] = messages
    return nested


def load_json(text: str | bytes) -> Any:
    """Parse JSON text and refuse what :func:`json_problems` finds; integers past
    :data:`MAX_DIGITS` digits, NaN and infinities are found, never parsed.

    Raises:
        ValueError: not JSON (``json.JSONDecodeError``, ``UnicodeDecodeError``).
        ValidationFailed: a value that may not be stored; ``errors`` names each path.
    """
    if isinstance(text, bytes):
        text = text.decode("utf-8")
    if text.startswith("\ufeff"):  # as json.loads refuses it
        raise json.JSONDecodeError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0)
    document = _DECODER.decode(text)
    problems = json_problems(document)
    if problems:
        raise ValidationFailed(
            "some values cannot be accepted: " + ", ".join(_paths(problems)), errors=problems
        )
    return document


def _paths(nested: dict[str, Any], prefix: str = "") -> list[str]:
    paths: list[str] = []
    for key, value in nested.items():
        where = f"{prefix}.{key}" if prefix else key
        paths.extend(_paths(value, where) if isinstance(value, dict) else [where])
    return paths


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
