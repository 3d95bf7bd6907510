"""``riskloop audit checkpoint | verify | export`` on a fresh SQLite database."""

from __future__ import annotations

import json

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from api.cli import main
from tests.support.cli import run
from workflow.audit import offline_verifier as export_verifier


@pytest.mark.usefixtures("cli_env")
def test_checkpoint_verify_and_export_then_a_deleted_stream_is_caught(tmp_path):
    assert run("db", "upgrade").exit_code == 0
    for name in ("carol", "dave"):
        created = run("users", "create", name, "--role", "auditor", "--password-stdin", stdin="a-long-password\n")
        assert created.exit_code == 0, created.output
    signed = run("audit", "checkpoint")
    assert signed.exit_code == 0, signed.output
    assert "checkpoint 1 signed" in signed.output

    verified = run("audit", "verify")
    assert verified.exit_code == 0, verified.output
    assert "1 checkpoints" in verified.output and "checking hash chains" in verified.output
    report = json.loads(run("audit", "verify", "--json").output.strip().splitlines()[-1])
    assert report["ok"] is True and report["checkpoints"] == 1

    out = tmp_path / "range.jsonl"
    exported = run("audit", "export", "--since", "2000-01-01T00:00:00Z", "--output", str(out))
    assert exported.exit_code == 0, exported.output
    assert export_verifier.main([str(out)]) == 0  # RISKLOOP_AUDIT_KEY is in the environment
    csv_out = tmp_path / "range.csv"
    assert run("audit", "export", "--since", "2000-01-01", "--format", "csv", "-o", str(csv_out)).exit_code == 0
    assert csv_out.read_bytes().startswith(b"\xef\xbb\xbftype,stream,seq")
    no_scope = CliRunner().invoke(main, ["audit", "export"])
    assert no_scope.exit_code != 0 and "choose what to export" in no_scope.output

    engine = create_engine(f"sqlite:///{tmp_path / 'cli.sqlite'}")
    with engine.begin() as conn:
        conn.execute(text("DELETE FROM audit_records WHERE stream = 'user:dave'"))
        conn.execute(text("DELETE FROM audit_streams WHERE stream = 'user:dave'"))
    engine.dispose()
    broken = run("audit", "verify", "--no-progress")
    assert broken.exit_code == 1
    assert "BROKEN: stream user:dave seq 1: deleted stream" in broken.output

