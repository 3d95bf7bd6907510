"""CSV text that Excel opens correctly: UTF-8 with a BOM, streamed row by row; and CSV
files from outside read with every refusal naming its row.

Text that a spreadsheet would take for a formula (a comment or idempotency key
written as ``=HYPERLINK(…)`` or ``=cmd|…``) is written with a leading apostrophe, as
OWASP advises against CSV injection, so that opening an export never runs it.
Numbers are written as they are. The CSV is for people to read; the audit export's
JSON Lines file carries every value verbatim and is the one to re-verify.
"""

from __future__ import annotations

import csv
import io
import re
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from workflow.errors import ValidationFailed

BOM = "\ufeff"
_NOT_UTF8 = re.compile("[\udc80-\udcff]")
# What Excel, LibreOffice and Google Sheets read as the start of a formula.
FORMULA_STARTS = ("=", "+", "-", "@", "\t", "\r")


def neutralise(value: Any) -> Any:
    """``value`` with a leading apostrophe if it is text a spreadsheet would run as a formula."""
    if isinstance(value, str) and value.startswith(FORMULA_STARTS):
        return "'" + value
    return value


def csv_lines(columns: Sequence[str], rows: Iterable[dict[str, Any]]) -> Iterator[str]:
    """The BOM and header, then one line of text per row (missing keys are empty)."""
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=list(columns), extrasaction="ignore")
    writer.writeheader()
    yield BOM + buffer.getvalue()
    for row in rows:
        buffer.seek(0)
        buffer.truncate()
        writer.writerow({name: neutralise(value) for name, value in row.items()})
        yield buffer.getvalue()


def read_csv(content: bytes | str, filename: str) -> Iterator[list[str]]:
    """The records of an uploaded CSV file (the first is its header), UTF-8 with or without a BOM.

    Raises:
        ValidationFailed: bytes that are not UTF-8, or a malformed record (above all a field over
            ``csv.field_size_limit()``, 128 KiB); ``errors`` names the row (``row 3``), the
            message the column.
    """
    damaged: re.Pattern[str] | None = None
    if isinstance(content, str):
        text = content
    else:
        try:
            text = content.decode("utf-8-sig")
        except UnicodeDecodeError:
            # Bytes that are not UTF-8 become lone surrogates, which valid text never holds:
            # the row and column of the first one are named.
            text, damaged = content.decode("utf-8-sig", errors="surrogateescape"), _NOT_UTF8
    reader = csv.reader(io.StringIO(text))
    header: list[str] = []
    number = 0
    while True:
        number += 1
        try:
            cells = next(reader, None)
        except csv.Error as exc:
            problem = (
                "a field is too long (over 128 KiB); no field of an import needs more than "
                "a few hundred characters"
                if "field limit" in str(exc)
                else str(exc)
            )
            raise ValidationFailed(
                f"{filename}: row {number} cannot be read: {problem}; nothing was imported",
                errors={f"row {number}": [problem]},
            ) from exc
        if cells is None:
            return
        for column, cell in enumerate(cells if damaged is not None else ()):
            if damaged is not None and (bad := damaged.search(cell)):
                name = header[column] if column < len(header) else f"column {column + 1}"
                raise ValidationFailed(
                    f"{filename} is not UTF-8 text (row {number}, {name}: byte "
                    f"0x{ord(bad.group()) - 0xDC00:02x}); save it as CSV UTF-8 (Excel: Save As, "
                    "CSV UTF-8) and import it again",
                    errors={
                        f"row {number}": [f"{name}: not UTF-8 text; save the file as CSV UTF-8."]
                    },
                )
        if number == 1:
            header = [cell.strip() for cell in cells]
        yield cells
