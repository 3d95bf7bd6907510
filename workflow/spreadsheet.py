"""CSV text that Excel opens correctly: UTF-8 with a BOM, streamed row by row.

Text that a spreadsheet would take for a formula (a comment or idempotency key
written as ``=HYPERLINK(…)`` or ``=cmd|…``) is written with a leading apostrophe, as
OWASP advises against CSV injection, so that opening an export never runs it.
Numbers are written as they are. The CSV is for people to read; the audit export's
JSON Lines file carries every value verbatim and is the one to re-verify.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

BOM = "\ufeff"
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
