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
        created = run(
            "users",
            "create",
            name,
            "--role",
            "auditor",
            "--password-stdin",
            stdin="a-long-password\n",
        )
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
    assert (
        run(
            "audit", "export", "--since", "2000-01-01", "--format", "csv", "-o", str(csv_out)
        ).exit_code
        == 0
    )
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


@pytest.mark.usefixtures("cli_env")
def test_checkpoints_are_anchored_and_verify_compares_the_database_with_the_anchors(tmp_path):
    assert run("db", "upgrade").exit_code == 0
    unsigned = run("audit", "verify", "--no-progress")
    assert unsigned.exit_code == 0, unsigned.output
    assert "WARNING: NO CHECKPOINT" in unsigned.output and "WARNING: NO ANCHOR" in unsigned.output

    assert run("audit", "checkpoint").exit_code == 0
    signed = run("audit", "checkpoint")
    assert signed.exit_code == 0, signed.output
    instance_anchors = tmp_path / "instance" / "audit-anchors.log"
    lines = instance_anchors.read_text(encoding="utf-8").splitlines()
    assert [json.loads(line)["seq"] for line in lines] == [1, 2]
    assert f"anchored in {instance_anchors}" in signed.output
    assert f"checkpoint 2 hmac {json.loads(lines[1])['hmac']}" in signed.output
    # The operator keeps the printed line elsewhere.
    kept = tmp_path / "kept-anchors.txt"
    kept.write_text(signed.output.strip().splitlines()[-1] + "\n", encoding="utf-8")
    assert kept.read_text(encoding="utf-8").strip() == lines[1]

    verified = run("audit", "verify", "--no-progress")
    assert verified.exit_code == 0, verified.output
    assert (
        f"comparing checkpoints with the instance's anchor file {instance_anchors}"
        in verified.output
    )
    assert "2 checkpoints (2 anchored checkpoints matched)" in verified.output
    assert "WARNING" not in verified.output

    engine = create_engine(f"sqlite:///{tmp_path / 'cli.sqlite'}")
    with engine.begin() as conn:  # the newest checkpoint goes (it signed nothing new)
        conn.execute(text("DELETE FROM audit_checkpoint_heads WHERE checkpoint_seq = 2"))
        conn.execute(text("DELETE FROM audit_checkpoints WHERE seq = 2"))
    engine.dispose()
    broken = run("audit", "verify", "--no-progress")
    assert broken.exit_code == 1
    assert "BROKEN: stream checkpoint:2 seq 2: cut checkpoint chain" in broken.output
    # The copy kept elsewhere says the same when the instance's anchor file is gone too.
    instance_anchors.unlink()
    compared = run("audit", "verify", "--anchor", str(kept), "--json")
    assert compared.exit_code == 1
    report = json.loads(compared.output.strip().splitlines()[-1])
    assert report["anchor"] == {"file": str(kept), "checkpoints": 1}
    assert report["first_break"]["stream"] == "checkpoint:2" and report["warnings"] == []
