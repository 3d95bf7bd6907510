"""Reading watch-list files: CSV (streamed row by row) or JSON, English or Chinese headers.

A CSV file has the header ``credit_code,name,list,reason`` with optional ``aliases``
(``|``-separated) and ``id_number`` columns, in any order; the Chinese headers
统一社会信用代码, 名称 (or the client import's 客户名称/企业名称), 名单, 原因, 别名 and
证件号码 (身份证号) are accepted too. ``credit_code`` may be empty — sanctions and court
lists often carry names only — but a row needs a name, a credit code or an ID number.

Every row is checked; the reader yields the good ones and, once the file is read,
raises :class:`ValidationFailed` naming every bad row, so the import that consumed
it rolls back and nothing is imported.
"""

from __future__ import annotations

import csv
import io
import json
import re
from collections.abc import Iterable, Iterator
from pathlib import Path
from typing import IO, Any

from workflow.errors import Message, ValidationFailed
from workflow.platform.spreadsheet import read_csv
from workflow.risk.clients.creditcode import normalize_credit_code, validate_credit_code

# What undecodable bytes become under ``errors="surrogateescape"``.
_NOT_UTF8 = re.compile("[\udc80-\udcff]")

LISTS = ("blacklist", "dishonest_debtor", "sanctions")
COLUMNS = ("credit_code", "name", "list", "reason")
OPTIONAL = ("aliases", "id_number")
HEADERS = {
    "统一社会信用代码": "credit_code",
    "信用代码": "credit_code",
    "名称": "name",
    "客户名称": "name",
    "企业名称": "name",
    "姓名": "name",
    "名单": "list",
    "名单类型": "list",
    "原因": "reason",
    "列入原因": "reason",
    "别名": "aliases",
    "证件号码": "id_number",
    "身份证号": "id_number",
    "身份证号码": "id_number",
}
MAX_ALIASES = 20
_ID_NUMBER = re.compile(r"^[0-9A-Z]{6,32}$")
_REPORTED_ERRORS = 100  # a broken 1,000,000-row file names its first hundred bad rows


def column_of(header: str) -> str:
    """The canonical column a (possibly Chinese) header names; unknown headers stay as they are."""
    cleaned = header.strip().lstrip("\ufeff")
    return HEADERS.get(cleaned, cleaned.lower())


def normalize_id_number(value: str) -> str:
    """An ID number as compared: no spaces, upper-case check letter."""
    return "".join(value.split()).upper()


class WatchlistRows:
    """The checked rows of one file; iterate once, then nothing was wrong or it raised."""

    def __init__(self, raw: Iterable[tuple[int, dict[str, Any] | None]], filename: str) -> None:
        self._raw = raw
        self.filename = filename
        self.rows_read = 0

    def __iter__(self) -> Iterator[dict[str, Any]]:
        errors: dict[str, list[Message]] = {}
        bad = 0
        for number, row in self._raw:
            if row is None:
                continue
            self.rows_read += 1
            entry, problems = check_row(row)
            if problems:
                bad += 1
                if len(errors) < _REPORTED_ERRORS:
                    errors[f"row {number}"] = problems
                continue
            if not bad:
                yield entry
        if bad:
            raise ValidationFailed(
                f"{self.filename}: {bad} bad row(s), the first at {next(iter(errors))}; "
                "nothing was imported",
                code="watchlist.bad_rows",
                params={"file": self.filename, "bad": bad},
                errors=errors,
            )


def _problem(column: str, code: str, text: str, **params: Any) -> Message:
    """What is wrong with one cell: ``column: text``, coded so a console can word it (the
    column is in ``params``)."""
    return Message(code, f"{column}: {text}", **params, column=column)


def check_row(row: dict[str, Any]) -> tuple[dict[str, Any], list[Message]]:
    """One row as an entry, and what is wrong with it (empty when nothing is)."""
    values = {k: str(row.get(k) or "").strip() for k in (*COLUMNS, "id_number")}
    raw_aliases = row.get("aliases") or []
    if isinstance(raw_aliases, str):
        raw_aliases = raw_aliases.split("|")
    aliases = (
        [str(a).strip() for a in raw_aliases if str(a).strip()]
        if isinstance(raw_aliases, list)
        else []
    )
    problems = [
        _problem(k, "watchlist.nul", "must not contain NUL characters")
        for k, v in values.items()
        if "\x00" in v
    ]
    problems += [
        _problem("aliases", "watchlist.nul", "must not contain NUL characters")
        for a in aliases[:1]
        if "\x00" in a
    ]
    if values["credit_code"]:
        code_problem = validate_credit_code(values["credit_code"])
        if code_problem:
            problems.append(
                _problem(
                    "credit_code",
                    getattr(code_problem, "code", "credit_code.invalid"),
                    str(code_problem),
                    **getattr(code_problem, "params", {}),
                )
            )
    id_number = normalize_id_number(values["id_number"])
    if id_number and not _ID_NUMBER.match(id_number):
        problems.append(_problem("id_number", "watchlist.id_number", "6 to 32 letters and digits"))
    if values["list"] not in LISTS:
        problems.append(
            _problem(
                "list",
                "watchlist.list",
                f"must be one of {', '.join(LISTS)}, got {values['list']!r}",
                got=values["list"],
            )
        )
    if not (values["name"] or values["credit_code"] or id_number):
        problems.append(
            _problem(
                "name", "watchlist.identity", "a row needs a name, a credit code or an ID number"
            )
        )
    if len(values["name"]) > 200 or any(len(a) > 200 for a in aliases):
        problems.append(
            _problem("name", "watchlist.name_length", "at most 200 characters (aliases too)")
        )
    if len(aliases) > MAX_ALIASES:
        problems.append(
            _problem("aliases", "watchlist.aliases", f"at most {MAX_ALIASES}", max=MAX_ALIASES)
        )
    entry = {
        "credit_code": normalize_credit_code(values["credit_code"])
        if values["credit_code"]
        else "",
        "name": values["name"],
        "list": values["list"],
        "reason": values["reason"][:500],
        "aliases": aliases,
        "id_number": id_number,
    }
    return entry, problems


def _csv_rows(records: Iterator[list[str]], filename: str) -> Iterator[tuple[int, dict | None]]:
    header = [column_of(h) for h in next(records, [])]
    missing = [c for c in COLUMNS if c not in header]
    unknown = [h for h in header if h not in COLUMNS + OPTIONAL]
    if missing or unknown or len(set(header)) != len(header):
        raise ValidationFailed(
            f"{filename}: the header must hold {','.join(COLUMNS)} (or 统一社会信用代码,名称,名单,原因)"
            f" and optionally {','.join(OPTIONAL)} (别名, 证件号码), each once",
            errors={
                "header": [
                    Message(
                        "watchlist.header",
                        f"Found {','.join(header) or 'nothing'}.",
                        found=",".join(header),
                    )
                ]
            },
        )
    for number, cells in enumerate(records, start=2):  # row 1 is the header
        if not any(c.strip() for c in cells):
            yield number, None  # a blank line
        else:
            yield number, dict(zip(header, cells, strict=False))


def _stream_csv(binary: IO[bytes], name: str) -> Iterator[list[str]]:
    # Bytes that are not UTF-8 become lone surrogates, so the row holding them is named
    # (a strict decoder fails a whole buffer ahead of the rows read so far).
    number = 0
    try:
        with io.TextIOWrapper(
            binary, encoding="utf-8-sig", errors="surrogateescape", newline=""
        ) as handle:
            for number, cells in enumerate(csv.reader(handle), start=1):  # noqa: B007
                if any(_NOT_UTF8.search(cell) for cell in cells):
                    raise ValidationFailed(
                        f"{name} is not UTF-8 text (row {number}); save it as UTF-8; "
                        "nothing was imported",
                        errors={
                            f"row {number}": [
                                Message(
                                    "watchlist.not_utf8", "not UTF-8 text; save the file as UTF-8."
                                )
                            ]
                        },
                    )
                yield cells
    except csv.Error as exc:
        raise ValidationFailed(
            f"{name}: row {number + 1} cannot be read: {exc}; nothing was imported",
            errors={
                f"row {number + 1}": [Message("watchlist.unreadable", str(exc), reason=str(exc))]
            },
        ) from exc


def read_watchlist_file(path: Path) -> WatchlistRows:
    """The rows of a watch-list file on disk; CSV is streamed, so a file of a million rows
    is read in bounded memory.

    Raises (while iterating):
        ValidationFailed: not UTF-8, malformed, a bad header; every bad row is named.
    """
    if path.name.lower().endswith(".json"):
        return parse_rows(path.read_bytes(), path.name)
    return read_watchlist_stream(path.open("rb"), path.name)


def read_watchlist_stream(binary: IO[bytes], filename: str) -> WatchlistRows:
    """The rows of an uploaded file read from ``binary`` (closed once read); CSV is streamed
    as on disk, JSON is read whole.

    Raises (while iterating):
        ValidationFailed: as :func:`read_watchlist_file`.
    """
    if filename.lower().endswith(".json"):
        with binary:
            return parse_rows(binary.read(), filename)
    return WatchlistRows(_csv_rows(_stream_csv(binary, filename), filename), filename)


def parse_rows(content: bytes | str, filename: str) -> WatchlistRows:
    """The rows of an uploaded file held in memory (CSV or JSON by ``filename``'s extension)."""
    if filename.lower().endswith(".json"):
        raw = _json_rows(content, filename)
        return WatchlistRows(
            ((n, {column_of(k): v for k, v in r.items()}) for n, r in enumerate(raw, start=1)),
            filename,
        )
    return WatchlistRows(_csv_rows(read_csv(content, filename), filename), filename)


def parse_watchlist(content: bytes | str, filename: str) -> list[dict[str, Any]]:
    """Read a CSV or JSON watch-list file into checked rows.

    Raises:
        ValidationFailed: not UTF-8, malformed, a bad header, list or credit code, or text
            that cannot be stored; every bad row is named.
    """
    return list(parse_rows(content, filename))


def _json_rows(content: bytes | str, filename: str) -> list[dict[str, Any]]:
    try:
        text = content.decode("utf-8-sig") if isinstance(content, bytes) else content
    except UnicodeDecodeError as exc:
        line = content[: exc.start].count(b"\n") + 1 if isinstance(content, bytes) else 0
        raise ValidationFailed(
            f"{filename} is not UTF-8 text (line {line}); save it as UTF-8",
            errors={"file": [Message("watchlist.not_utf8", f"Line {line}: not UTF-8 text.")]},
        ) from exc
    try:
        raw = json.loads(text)
    except json.JSONDecodeError as exc:
        raise ValidationFailed(
            f"{filename} is not valid JSON: {exc}",
            errors={"file": [Message("watchlist.json", str(exc), reason=str(exc))]},
        ) from exc
    except RecursionError as exc:
        raise ValidationFailed(
            f"{filename} is nested too deeply to be a watch list: a JSON list "
            f"of objects with keys {', '.join(COLUMNS)}",
            errors={"file": [Message("watchlist.json_shape", "Nested too deeply.")]},
        ) from exc
    if not isinstance(raw, list) or not all(isinstance(r, dict) for r in raw):
        raise ValidationFailed(
            f"{filename} must hold a JSON list of objects with keys {', '.join(COLUMNS)}",
            errors={"file": [Message("watchlist.json_shape", "Not a list of objects.")]},
        )
    return raw
