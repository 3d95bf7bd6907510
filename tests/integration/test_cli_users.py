"""`riskloop users …` on a fresh SQLite database: the password policy where passwords
are set, and deactivation or a change of roles ending the user's sessions."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from sqlalchemy import create_engine, text

from api.cli import main
from tests.support.app import TEST_KEYS


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
        "RISKLOOP_INSTANCE_PATH": str(tmp_path / "instance"),
        **TEST_KEYS,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    assert run("db", "upgrade").exit_code == 0
    return env


def run(*args: str, stdin: str | None = None):  # noqa: ANN201
    return CliRunner().invoke(main, list(args), input=stdin, catch_exceptions=False)


def users(env: dict[str, str], columns: str = "active, roles, session_epoch") -> dict[str, tuple]:
    engine = create_engine(env["DATABASE_URL"])
    with engine.connect() as conn:
        rows = conn.execute(text(f"SELECT username, {columns} FROM users")).all()
    engine.dispose()
    return {r[0]: tuple(r[1:]) for r in rows}


@pytest.mark.parametrize("password", ["password123", "qwertyuiop", "iloveyou2"])
def test_users_create_refuses_a_common_password(cli_env, password):
    result = run(
        "users", "create", "carol", "--role", "sales", "--password-stdin", stdin=password + "\n"
    )
    assert result.exit_code != 0 and "password" in result.output and "guess" in result.output
    assert "carol" not in users(cli_env, "active")


def test_users_create_refuses_a_password_containing_the_user_name(cli_env):
    result = run(
        "users",
        "create",
        "carol",
        "--role",
        "sales",
        "--password-stdin",
        stdin="Carol-Xq9#mT2vLp\n",
    )
    assert result.exit_code != 0 and "user name" in result.output
    assert (
        run(
            "users",
            "create",
            "carol",
            "--role",
            "sales",
            "--password-stdin",
            stdin="kite-ledger-quartz\n",
        ).exit_code
        == 0
    )


def test_users_deactivate_and_roles_end_the_users_sessions(cli_env):
    assert (
        run(
            "users",
            "create",
            "carol",
            "--role",
            "sales",
            "--password-stdin",
            stdin="kite-ledger-quartz\n",
        ).exit_code
        == 0
    )
    _, _, epoch = users(cli_env)["carol"]
    roles = run("users", "roles", "carol", "--role", "risk_officer", "--role", "legal")
    assert roles.exit_code == 0, roles.output
    active, role_list, after_roles = users(cli_env)["carol"]
    assert "legal" in role_list and "risk_officer" in role_list and after_roles > epoch
    off = run("users", "deactivate", "carol")
    assert off.exit_code == 0, off.output
    active, _, after_off = users(cli_env)["carol"]
    assert not active and after_off > after_roles
    on = run("users", "activate", "carol")
    assert on.exit_code == 0 and users(cli_env)["carol"][0]
    assert run("users", "deactivate", "nobody").exit_code != 0
