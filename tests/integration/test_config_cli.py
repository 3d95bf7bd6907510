"""``riskloop config list|show|draft``: over a database migrated by ``db upgrade`` (0015),
the shipped files seeded as the first versions (the rule set ships as version 2); a draft prints its change and diff, a
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
    # (the definitions are seeded as their kinds on first reading, logged on stderr)
    kinds = [line.split("\t")[0] for line in listed.output.splitlines() if "\t" in line]
    assert kinds[:4] == ["rule_set", "monitoring_rules", "alert_routing", "dd_checklist"]
    assert "definition:due_diligence" in kinds[4:] and "definition:config_change" not in kinds

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


def test_an_administrator_drafts_a_definition_version(cli_env, tmp_path: Path) -> None:
    assert run("db", "upgrade").exit_code == 0
    for name, role in (("admin9", "admin"), ("risk9", "risk_officer")):
        created = run("users", "create", name, "--role", role, "--password-stdin", stdin=PASSWORD)
        assert created.exit_code == 0, created.output

    shown = run("config", "show", "definition:due_diligence")
    assert shown.exit_code == 0, shown.output
    lines = [line for line in shown.output.splitlines(True) if not line.startswith('{"ts"')]
    header, content = lines[0], "".join(lines[1:])  # the header on stderr, then the YAML
    version = int(header.split(" version ")[1].split(" ")[0])
    draft = tmp_path / "due_diligence.yaml"
    draft.write_text(content.replace("sla: 10d", "sla: 5d"), encoding="utf-8")

    refused = run(
        "config", "draft", "definition:due_diligence", str(draft), "--reason", "x", "--as", "risk9"
    )
    assert refused.exit_code != 0 and "admin" in refused.output

    drafted = run(
        "config",
        "draft",
        "definition:due_diligence",
        str(draft),
        "--reason",
        "collect within five days",
        "--as",
        "admin9",
    )
    assert drafted.exit_code == 0, drafted.output
    assert '"state": "backtesting"' in drafted.output
    assert f'"version": {version + 1}' in drafted.output
    assert "+  collecting: {label: {zh-CN: 资料收集中, en: Collecting}, sla: 5d}" in drafted.output

    draft.write_text(content.replace("initial: opened", "initial: nowhere"), encoding="utf-8")
    broken = run(
        "config", "draft", "definition:due_diligence", str(draft), "--reason", "x", "--as", "admin9"
    )
    assert broken.exit_code != 0
    assert "initial: names unknown state 'nowhere'" in broken.output
