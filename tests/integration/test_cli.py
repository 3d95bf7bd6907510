"""The riskloop command line on a fresh SQLite database."""

from __future__ import annotations

import json
from pathlib import Path

from click.testing import CliRunner
from sqlalchemy import create_engine, text

from api.cli import main
from tests.support.cli import run
from tests.support.robots import definitions_with_channels


def test_db_upgrade_users_create_and_audit_verify(cli_env):
    assert run("db", "upgrade").exit_code == 0
    result = run(
        "users",
        "create",
        "carol",
        "--role",
        "risk_officer",
        "--role",
        "legal",
        "--password-stdin",
        stdin="a-long-password\n",
    )
    assert result.exit_code == 0, result.output
    assert "created user carol with roles legal, risk_officer" in result.output
    duplicate = run(
        "users",
        "create",
        "carol",
        "--role",
        "legal",
        "--password-stdin",
        stdin="another-password\n",
    )
    assert duplicate.exit_code != 0 and "already exists" in duplicate.output
    bad = run("users", "create", "dave", "--role", "wizard", "--password-stdin", stdin="short\n")
    assert bad.exit_code != 0 and "roles" in bad.output and "password" in bad.output

    verified = run("audit", "verify", "--json")
    assert verified.exit_code == 0, verified.output
    report = json.loads(verified.output.strip().splitlines()[-1])
    assert report["ok"] is True and report["records"] >= 1

    engine = create_engine(cli_env["DATABASE_URL"])
    with engine.begin() as conn:
        conn.execute(text("UPDATE audit_records SET actor = 'mallory' WHERE kind = 'user.created'"))
    engine.dispose()
    broken = run("audit", "verify")
    assert broken.exit_code == 1


def test_definitions_check_accepts_the_shipped_folder_and_names_a_bad_file(cli_env, tmp_path):
    ok = run("definitions", "check")
    assert ok.exit_code == 0, ok.output
    assert "ok  rules/default.yaml" in ok.output
    assert "ok  rules/monitoring.yaml" in ok.output  # the monitoring rules, checked as such
    rules_dir = tmp_path / "with_rules"
    (rules_dir / "rules").mkdir(parents=True)
    (rules_dir / "rules" / "monitoring.yaml").write_text(
        "name: monitoring\nversion: 1\nrules: [{id: x, when: {type: nonsense}}]\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["definitions", "check", str(rules_dir)])
    assert result.exit_code != 0 and "monitoring.yaml" in result.output, result.output
    bad_dir = tmp_path / "defs"
    bad_dir.mkdir()
    (bad_dir / "broken.yaml").write_text(
        "name: broken\nversion: 1\ninitial: a\nstates: {a: {}, z: {final: true}}\n"
        "transitions: [{trigger: go, source: a, dest: z, roles: [wizard]}]\n",
        encoding="utf-8",
    )
    result = CliRunner().invoke(main, ["definitions", "check", str(bad_dir)])
    assert result.exit_code != 0
    assert "broken.yaml: transitions[0].roles: unknown role 'wizard'" in result.output


def test_a_changed_definition_without_a_new_version_is_refused_at_start(
    cli_env, tmp_path, monkeypatch
):
    defs = tmp_path / "defs"
    defs.mkdir()
    source = Path("tests/fixtures/definitions/approval.yaml").read_text(encoding="utf-8")
    (defs / "approval.yaml").write_text(source, encoding="utf-8")
    monkeypatch.setenv("RISKLOOP_DEFINITIONS", str(defs))
    assert run("db", "upgrade").exit_code == 0
    (defs / "approval.yaml").write_text(
        source.replace("测试审批", "测试审批（改）"), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["db", "upgrade"])
    assert result.exit_code == 1
    # One line naming the file, the key and the fix; no traceback.
    assert "Error: approval.yaml: version: " in result.output and "Traceback" not in result.output
    assert "changed since it was loaded" in result.output and "raise version to 2" in result.output


def test_definitions_check_of_a_folder_compares_versions_with_the_database(
    cli_env, tmp_path, monkeypatch
):
    """A file edited without raising its version fails ``check`` (before a deployment would)."""
    defs = tmp_path / "defs"
    defs.mkdir()
    source = Path("tests/fixtures/definitions/approval.yaml").read_text(encoding="utf-8")
    (defs / "approval.yaml").write_text(source, encoding="utf-8")
    monkeypatch.setenv("RISKLOOP_DEFINITIONS", str(defs))
    assert run("db", "upgrade").exit_code == 0
    monkeypatch.delenv("RISKLOOP_DEFINITIONS")  # the running service still has the old files
    edited = tmp_path / "edited"
    edited.mkdir()
    (edited / "approval.yaml").write_text(
        source.replace("测试审批", "测试审批（改）"), encoding="utf-8"
    )
    result = CliRunner().invoke(main, ["definitions", "check", str(edited)])
    assert result.exit_code == 1, result.output
    assert "approval.yaml: version: " in result.output and "raise version to 2" in result.output
    bumped = tmp_path / "bumped"
    bumped.mkdir()
    (bumped / "approval.yaml").write_text(
        source.replace("测试审批", "测试审批（改）").replace("version: 1", "version: 2", 1),
        encoding="utf-8",
    )
    ok = run("definitions", "check", str(bumped))
    assert ok.exit_code == 0 and "v2" in ok.output


def test_the_demo_check_on_a_database_with_users_leaves_the_database_writable(cli_env):
    """`riskloop run` on an existing database: the demo check only reads, and must not keep
    a transaction open (SQLite transactions begin IMMEDIATE: it would hold the write lock
    while the server runs, and every write would fail with 'database is locked')."""
    import sqlite3

    from api import create_app, demo

    assert run("db", "upgrade").exit_code == 0
    assert (
        run(
            "users",
            "create",
            "carol",
            "--role",
            "sales",
            "--password-stdin",
            stdin="a-long-password\n",
        ).exit_code
        == 0
    )
    app = create_app()
    with app.app_context():
        assert demo.ensure_demo(app) is False
        other = sqlite3.connect(
            cli_env["DATABASE_URL"].removeprefix("sqlite:///"), timeout=0.2, isolation_level=None
        )
        try:
            other.execute("BEGIN IMMEDIATE")  # "database is locked" while a transaction is open
            other.execute("ROLLBACK")
        finally:
            other.close()


def test_definitions_check_refuses_a_push_channel_naming_an_unset_variable(
    cli_env, tmp_path, monkeypatch
):
    monkeypatch.delenv("RISKLOOP_TEST_UNSET_URL", raising=False)
    folder = definitions_with_channels(
        tmp_path / "defs", [{"type": "wecom", "url": "${RISKLOOP_TEST_UNSET_URL}"}], {}
    )

    result = CliRunner().invoke(main, ["definitions", "check", str(folder)])

    assert result.exit_code == 1, result.output
    assert "alert_remediation.yaml: settings.routing.channels[0]: url names " in result.output
    assert "RISKLOOP_TEST_UNSET_URL, which is not set" in result.output
