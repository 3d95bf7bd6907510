"""``riskloop config list|show|draft``: over a database migrated by ``db upgrade`` (0015),
the shipped files seeded as the first versions; a draft prints its change and diff, a
broken one every problem."""

from __future__ import annotations

from pathlib import Path

from tests.support.cli import run

PASSWORD = "a-long-and-unusual-passphrase-42"


def test_list_show_and_draft_through_the_command_line(cli_env, tmp_path: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    created = run(
        "users", "create", "risk9", "--role", "risk_officer", "--password-stdin", stdin=PASSWORD
    )
    assert created.exit_code == 0, created.output

    listed = run("config", "list")
    assert listed.exit_code == 0, listed.output
    kinds = [line.split("\t")[0] for line in listed.output.splitlines()]
    assert kinds == ["rule_set", "monitoring_rules", "alert_routing", "dd_checklist"]

    shown = run("config", "show", "rule_set")
    assert shown.exit_code == 0
    assert "facts.state_ownership_pct > 80.0" in shown.output

    draft = tmp_path / "rules.yaml"
    draft.write_text(
        shown.output.split("\n", 1)[1].replace("cap: 50000000", "cap: 40000000"), encoding="utf-8"
    )
    drafted = run(
        "config", "draft", "rule_set", str(draft), "--reason", "lower cap", "--as", "risk9"
    )
    assert drafted.exit_code == 0, drafted.output
    assert '"state": "backtesting"' in drafted.output and '"version": 3' in drafted.output
    assert "+  cap: 40000000" in drafted.output

    draft.write_text("name: [unclosed", encoding="utf-8")
    refused = run("config", "draft", "rule_set", str(draft), "--reason", "x", "--as", "risk9")
    assert refused.exit_code != 0
    assert "(document): not valid YAML" in refused.output
    assert run("config", "show", "nope").exit_code != 0
