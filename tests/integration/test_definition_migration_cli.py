"""``riskloop definitions migrate NAME --to N [--dry-run] [--state-map old=new]`` and
``migrate-revert ID`` on a fresh SQLite database, with ``audit verify`` after each."""

from __future__ import annotations

import os
from pathlib import Path

import pytest
from flask import Flask

from api import create_app
from api.extensions import db
from tests.support.cli import run
from tests.support.config_changes import approve_shipped
from workflow.engine import firing
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance

FLOW = """
name: cli_flow
version: {version}
initial: first
states:
  first: {{sla: 2h}}
{second}  done: {{final: true}}
transitions:
  - {{trigger: go, source: first, dest: {go_to}, roles: [risk_officer]}}
{second_out}timers:
  - {{state: first, after: {after}, trigger: remind}}
"""
V1 = FLOW.format(
    version=1,
    second="  second: {sla: 1h}\n",
    go_to="second",
    second_out="  - {trigger: finish, source: second, dest: done, roles: [risk_officer]}\n"
    "  - {trigger: remind, source: first, dest: first, roles: [system]}\n",
    after="2h",
)
# v2: no second step, and the reminder after 4 hours
V2 = FLOW.format(
    version=2,
    second="",
    go_to="done",
    second_out="  - {trigger: remind, source: first, dest: first, roles: [system]}\n",
    after="4h",
)
OFFICER = Actor("risk1", frozenset({"risk_officer"}))


def versions(app: Flask) -> dict[int, int]:
    with app.app_context():
        rows = db.session.query(WorkflowInstance).filter_by(definition="cli_flow")
        found = {i.id: i.definition_version for i in rows}
        db.session.remove()
    return found


@pytest.fixture
def folders(tmp_path: Path, cli_env: dict[str, str], monkeypatch: pytest.MonkeyPatch) -> Path:
    for version, text in (("v1", V1), ("v2", V2)):
        (tmp_path / version).mkdir()
        (tmp_path / version / "cli_flow.yaml").write_text(text, encoding="utf-8")
    monkeypatch.setenv("RISKLOOP_EXTRA_DEFINITIONS", str(tmp_path / "v1"))
    return tmp_path


def test_a_dry_run_then_migrate_and_revert_from_the_command_line(
    folders: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    assert run("db", "upgrade").exit_code == 0
    app = create_app()
    with app.app_context():
        ids = [firing.start(db.session, "cli_flow", OFFICER).id for _ in range(3)]
        firing.fire(db.session, ids[2], "go", OFFICER)
        db.session.commit()
        db.session.remove()
    # the new version is deployed beside the old one, proposed, and approved by a manager
    monkeypatch.setenv(
        "RISKLOOP_EXTRA_DEFINITIONS", os.pathsep.join([str(folders / "v1"), str(folders / "v2")])
    )
    assert run("db", "upgrade").exit_code == 0
    waiting = run("definitions", "migrate", "cli_flow", "--to", "2", "--dry-run")
    assert waiting.exit_code == 1 and "waits for a manager's approval" in waiting.output
    assert approve_shipped(app) == ["definition:cli_flow"]

    dry = run("definitions", "migrate", "cli_flow", "--to", "2", "--dry-run")
    assert dry.exit_code == 0, dry.output
    assert "cli_flow → v2: 2 migratable, 1 blocked (state_removed 1)" in dry.output
    assert f"blocked  #{ids[2]} second: state_removed" in dry.output
    mapped = run(
        "definitions",
        "migrate",
        "cli_flow",
        "--to",
        "2",
        "--dry-run",
        "--state-map",
        "second=first",
    )
    assert "3 migratable, 0 blocked" in mapped.output

    applied = run("definitions", "migrate", "cli_flow", "--to", "2", "--batch", "1")
    assert applied.exit_code == 0, applied.output
    assert "2 migrated, 1 blocked" in applied.output and "migration 1 applied" in applied.output
    assert "moved 1/3" in applied.output and "moved 3/3" in applied.output  # progress
    assert versions(app) == {ids[0]: 2, ids[1]: 2, ids[2]: 1}
    assert run("audit", "verify", "--no-progress").exit_code == 0

    reverted = run("definitions", "migrate-revert", "1")
    assert reverted.exit_code == 0, reverted.output
    assert "2 reverted, 0 blocked" in reverted.output
    assert versions(app) == {ids[0]: 1, ids[1]: 1, ids[2]: 1}
    assert run("audit", "verify", "--no-progress").exit_code == 0

    again = run("definitions", "migrate-revert", "1")
    assert again.exit_code == 1 and "reverted already" in again.output
    unknown = run("definitions", "migrate", "cli_flow", "--to", "9")
    assert unknown.exit_code == 1 and "to_version" in unknown.output
    bad_map = run("definitions", "migrate", "cli_flow", "--to", "2", "--state-map", "second")
    assert bad_map.exit_code == 2 and "old=new" in bad_map.output
