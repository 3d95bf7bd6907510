"""What a hostile or careless file can still do to the client and watch-list imports (issue #15):
decompression bombs, damaged workbooks, bytes that are not UTF-8, oversized fields, numbers
that are not numbers; and a dry run refuses exactly what the import itself refuses."""

from __future__ import annotations

import io
import itertools
import json
import re
import tracemalloc
import zipfile
from pathlib import Path
from typing import Any

import pytest
from click.testing import Result
from flask import Flask
from openpyxl import Workbook

from api.extensions import runtime_of
from tests.support.app import Api
from tests.support.client_imports import HEADER, clients, code, csv_file, upload
from workflow.risk.clients.bulk_import import _xlsx_rows

MIB = 1024 * 1024
SST = b'<sst xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><si><t>'


def workbook(*rows: list[Any]) -> bytes:
    book = Workbook()
    for row in rows:
        book.active.append(row)
    buffer = io.BytesIO()
    book.save(buffer)
    return buffer.getvalue()


def replaced(content: bytes, name: str, parts: Any) -> bytes:
    """``content`` (a zip) with member ``name`` written anew from the byte strings ``parts``."""
    source = zipfile.ZipFile(io.BytesIO(content))
    buffer = io.BytesIO()
    with zipfile.ZipFile(buffer, "w", zipfile.ZIP_DEFLATED) as target:
        for info in source.infolist():
            if info.filename != name:
                target.writestr(info, source.read(info))
        with target.open(name, "w") as member:
            for part in parts:
                member.write(part)
    return buffer.getvalue()


def xlsx_bomb(unpacked: int = 100 * MIB) -> bytes:
    """A real workbook whose shared strings unpack to ``unpacked`` bytes."""
    content = workbook(["name", "credit_code"], ["Bomb Co", code(1)])
    filler = (b"A" * MIB for _ in range(unpacked // MIB))
    return replaced(content, "xl/sharedStrings.xml", [SST, *filler, b"</t></si></sst>"])


def problem(r: Any, status: int) -> dict[str, Any]:
    assert r.status_code == status, r.get_data(as_text=True)[:500]
    assert r.mimetype == "application/problem+json"
    return dict(r.get_json())


@pytest.mark.parametrize("query", ["?dry_run=true", ""])
def test_an_xlsx_decompression_bomb_is_refused_with_413_before_it_is_parsed(
    app: Flask, api: Api, query: str
) -> None:
    content = xlsx_bomb()
    assert len(content) < 400 * 1024
    api.token("sales1")
    tracemalloc.start()
    try:
        r = upload(api, "sales1", content, name="clients.xlsx", query=query)
        peak = tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()
    body = problem(r, 413)
    assert body["type"].endswith("/payload-too-large") and body["member"] == "xl/sharedStrings.xml"
    assert "clients.xlsx" in body["detail"] and "RISKLOOP_ZIP_MAX" in body["detail"]
    assert peak < 32 * MIB, f"{peak / MIB:.0f} MiB held while refusing a bomb"
    assert clients(app) == {}


def test_the_unpacking_limits_are_configuration(
    app: Flask, api: Api, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    from api import config

    monkeypatch.setenv("RISKLOOP_ZIP_MAX_MEMBER_BYTES", "2048")
    monkeypatch.setenv("RISKLOOP_ZIP_MAX_RATIO", "20")
    loaded = config.load(str(tmp_path))
    assert (loaded["RISKLOOP_ZIP_MAX_MEMBER_BYTES"], loaded["RISKLOOP_ZIP_MAX_RATIO"]) == (2048, 20)
    assert (
        loaded["RISKLOOP_ZIP_MAX_TOTAL_BYTES"] == 256 * MIB
        and loaded["RISKLOOP_ZIP_MAX_MEMBERS"] == 10_000
    )
    content = workbook(["name", "credit_code"], *([f"Co {n}", code(n)] for n in range(1, 60)))
    assert (
        upload(api, "sales1", content, name="clients.xlsx", query="?dry_run=true").status_code
        == 200
    )
    runtime_of(app).settings["RISKLOOP_ZIP_MAX_MEMBER_BYTES"] = 2048
    body = problem(upload(api, "sales1", content, name="clients.xlsx", query="?dry_run=true"), 413)
    assert body["limit"] == 2048 and "RISKLOOP_ZIP_MAX_MEMBER_BYTES" in body["detail"]


SHEET = (
    b'<worksheet xmlns="http://schemas.openxmlformats.org/spreadsheetml/2006/main"><sheetData>'
    b'<row r="1"><c r="A1" t="inlineStr"><is><t>name</t></is></c>'
    b'<c r="B1" t="inlineStr"><is><t>credit_code</t></is></c></row><row r="2">%s</row>'
    b"</sheetData></worksheet>"
)


@pytest.mark.parametrize(
    "cell",
    [
        b'<c r="A2" t="n"><v>abc</v></c>',  # a number that is not one
        b'<c r="A2" t="s"><v>99</v></c>',
    ],
)  # a shared string that is not there
def test_a_workbook_with_a_damaged_sheet_is_a_422_naming_the_row_not_a_500(
    module_api: Api, cell: bytes
) -> None:
    content = workbook(["name", "credit_code"], ["Alpha", code(1)])
    broken = replaced(content, "xl/worksheets/sheet1.xml", [SHEET % cell])
    for query in ("?dry_run=true", ""):
        body = problem(upload(module_api, "sales1", broken, name="clients.xlsx", query=query), 422)
        assert "clients.xlsx" in body["detail"] and list(body["errors"]) == ["row 2"]


def test_a_sheet_claiming_every_column_of_excel_is_read_only_as_far_as_its_cells_go() -> None:
    """A dimension of A1:XFD1048576 would make every row 16,384 cells long."""
    content = workbook(["name", "credit_code"], ["Alpha", code(1)])
    sheet = zipfile.ZipFile(io.BytesIO(content)).read("xl/worksheets/sheet1.xml")
    claimed = re.sub(rb'<dimension ref="[^"]*"', b'<dimension ref="A1:XFD1048576"', sheet)
    assert claimed != sheet
    rows = _xlsx_rows(replaced(content, "xl/worksheets/sheet1.xml", [claimed]), "clients.xlsx")
    assert list(itertools.islice(rows, 5)) == [["name", "credit_code"], ["Alpha", code(1)]]


def test_a_csv_that_is_not_utf8_is_a_422_naming_the_row(module_app: Flask, module_api: Api) -> None:
    content = (
        csv_file(f"Good Co,{code(1)},5000000,private,,,,0,")
        + "成都公司".encode("gbk")
        + f",{code(2)},1,private,,,,0,\n".encode()
    )
    for query in ("?dry_run=true", ""):
        body = problem(upload(module_api, "sales1", content, query=query), 422)
        assert "UTF-8" in body["detail"] and list(body["errors"]) == ["row 3"]
    assert clients(module_app) == {}


def test_a_csv_field_over_128_kib_is_a_422_naming_the_row(
    module_app: Flask, module_api: Api
) -> None:
    content = csv_file(
        f"Good Co,{code(1)},5000000,private,,,,0,",
        f"{'x' * (129 * 1024)},{code(2)},1,private,,,,0,",
    )
    for query in ("?dry_run=true", ""):
        body = problem(upload(module_api, "sales1", content, query=query), 422)
        assert list(body["errors"]) == ["row 3"] and "too long" in body["errors"]["row 3"][0]
    assert clients(module_app) == {}


NOT_COUNTS = ("1e400", "-1e400", "nan", "inf", "1e999999999", "1.5")


def test_numbers_that_are_not_counts_are_row_errors_naming_the_column(
    module_app: Flask, module_api: Api
) -> None:
    rows = [f"Co {n},{code(10 + n)},5000000,private,,,,{bad}," for n, bad in enumerate(NOT_COUNTS)]
    report = upload(module_api, "sales1", csv_file(*rows), query="?dry_run=true").get_json()
    assert report["created"] == 0
    assert {(e["row"], e["field"]) for e in report["errors"]} == {
        (n + 2, "facts") for n in range(len(NOT_COUNTS))
    }
    assert all("litigation_count" in e["messages"][0] for e in report["errors"])
    body = problem(upload(module_api, "sales1", csv_file(*rows)), 422)
    assert sorted(body["errors"]) == sorted(f"row {n + 2}: facts" for n in range(len(NOT_COUNTS)))
    assert clients(module_app) == {}


OWNED = "name,credit_code,owner"
# (who imports, header, a bad row): each is refused by the import itself.
BAD_ROWS = [
    ("risk1", OWNED, f"No Owner,{code(31)},"),  # a client needs an owner
    ("risk1", OWNED, f"Ghost's,{code(32)},ghost"),  # no such user
    ("risk1", OWNED, f"Risk's,{code(33)},risk2"),  # not a sales user
    ("sales1", OWNED, f"Other's,{code(34)},sales2"),  # sales own what they add
    ("sales1", HEADER, f"Nul\x00Co,{code(35)},5000000,private,,,,0,"),  # unstorable text
    ("sales1", HEADER, f"NaN Co,{code(36)},5000000,private,,,,nan,"),
    ("sales1", HEADER, f"Huge Co,{code(37)},1e400,private,,,,0,"),
]


@pytest.mark.parametrize(("user", "header", "bad"), BAD_ROWS)
def test_a_dry_run_refuses_exactly_what_the_import_refuses(
    app: Flask, api: Api, user: str, header: str, bad: str
) -> None:
    good = (
        f"Good Co,{code(30)},sales1" if header == OWNED else f"Good Co,{code(30)},1,private,,,,0,"
    )
    content = f"{header}\n{good}\n{bad}\n".encode()
    dry = upload(api, user, content, query="?dry_run=true")
    assert dry.status_code == 200, dry.get_json()
    report = dry.get_json()
    assert (report["created"], {e["row"] for e in report["errors"]}) == (1, {3}), report
    real = problem(upload(api, user, content), 422)
    assert {key.split(":")[0] for key in real["errors"]} == {"row 3"}
    assert clients(app) == {}
    fixed = f"{header}\n{good}\n".encode()
    assert upload(api, user, fixed, query="?dry_run=true").get_json()["created"] == 1
    assert upload(api, user, fixed).get_json()["created"] == 1


def cli(app: Flask, *args: str) -> Result:
    from api.cli import main

    return app.test_cli_runner().invoke(main, list(args))


def refused_cleanly(result: Result, *expected: str) -> None:
    assert result.exit_code == 1, result.output
    assert isinstance(result.exception, SystemExit), repr(result.exception)
    assert "Traceback" not in result.output
    for text in expected:
        assert text in result.output, result.output


def test_the_client_import_cli_names_the_bad_row_instead_of_a_traceback(
    app: Flask, tmp_path: Path
) -> None:
    files = {
        "gbk.csv": csv_file(f"Good Co,{code(1)},1,private,,,,0,") + "公司".encode("gbk") + b",x\n",
        "long.csv": csv_file(f"{'x' * (129 * 1024)},{code(2)},1,private,,,,0,"),
        "nan.csv": csv_file(f"NaN Co,{code(3)},1,private,,,,nan,"),
        "huge.csv": csv_file(f"Huge Co,{code(4)},1,private,,,,1e400,"),
        "bomb.xlsx": xlsx_bomb(80 * MIB),
    }
    expected = {
        "gbk.csv": "row 3",
        "long.csv": "row 2",
        "nan.csv": "row 2: facts",
        "huge.csv": "row 2: facts",
        "bomb.xlsx": "xl/sharedStrings.xml",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        for dry in (["--dry-run"], []):
            result = cli(app, "clients", "import", str(tmp_path / name), "--owner", "sales1", *dry)
            refused_cleanly(result, expected[name])
    assert clients(app) == {}


def test_the_watch_list_cli_names_the_bad_row_instead_of_a_traceback(
    app: Flask, tmp_path: Path
) -> None:
    head = "credit_code,name,list,reason\n"
    good = f"{code(1)},Good,blacklist,fraud\n"
    files = {
        "gbk.csv": (head + good).encode()
        + f"{code(2)},".encode()
        + "失信公司".encode("gbk")
        + b",blacklist,x\n",
        "long.csv": (head + good + f"{code(2)},{'x' * (129 * 1024)},blacklist,x\n").encode(),
        "nul.csv": (head + good + f"{code(2)},Nul\x00Co,blacklist,x\n").encode(),
        "numbers.json": b'[{"credit_code": 1e400, "name": NaN, "list": "blacklist", "reason": Infinity}]',
        "deep.json": b"[" * 100_000 + b"]" * 100_000,
        "gbk.json": json.dumps(
            [{"credit_code": code(2), "name": "NAME", "list": "blacklist", "reason": "x"}]
        )
        .encode()
        .replace(b"NAME", "失信".encode("gbk")),
    }
    expected = {
        "gbk.csv": "row 3",
        "long.csv": "row 3",
        "nul.csv": "row 3: name",
        "numbers.json": "row 1",
        "deep.json": "deep.json",
        "gbk.json": "UTF-8",
    }
    for name, content in files.items():
        (tmp_path / name).write_bytes(content)
        refused_cleanly(cli(app, "watchlist", "import", str(tmp_path / name)), expected[name])


def test_the_cli_dry_run_refuses_a_row_without_an_owner_as_the_import_does(
    app: Flask, tmp_path: Path
) -> None:
    """The command line acts as the system: without --owner nobody owns the new client."""
    path = tmp_path / "clients.csv"
    path.write_bytes(csv_file(f"Orphan Co,{code(1)},1,private,,,,0,"))
    for dry in (["--dry-run"], []):
        refused_cleanly(cli(app, "clients", "import", str(path), *dry), "row 2: owner")
    assert clients(app) == {}
    result = cli(app, "clients", "import", str(path), "--owner", "sales1")
    assert result.exit_code == 0 and '"created": 1' in result.output, result.output
