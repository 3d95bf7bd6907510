"""Start-up refuses missing or malformed keys in production.

With a PostgreSQL ``DATABASE_URL``, each of ``SECRET_KEY``, ``RISKLOOP_ENCRYPTION_KEYS``
and ``RISKLOOP_AUDIT_KEY`` missing stops ``create_app()``, ``riskloop worker``,
``riskloop scheduler`` and gunicorn with a message naming it, and no key is
generated; a malformed value is refused with a message naming the variable and
never echoing the value. Embedded mode (SQLite) generates missing keys instead.
"""

from __future__ import annotations

import json
import os
import stat
import subprocess
import sys
from pathlib import Path

import pytest

from api.config import REQUIRED_KEYS
from tests.support.app import TEST_KEYS
from tests.support.databases import PG_ADMIN_URL
from tests.support.services import ROOT, free_port
from workflow.errors import ConfigurationError

PRODUCTION_URL = PG_ADMIN_URL  # nothing connects: the keys are checked first
VALID_FERNET = TEST_KEYS["RISKLOOP_ENCRYPTION_KEYS"]


@pytest.fixture
def production_env(monkeypatch, tmp_path):
    """The environment of a production process: PostgreSQL and every key, nothing else."""
    for name in list(os.environ):
        if name.startswith("RISKLOOP_") or name in ("SECRET_KEY", "DATABASE_URL", "REDIS_URL"):
            monkeypatch.delenv(name)
    monkeypatch.setenv("DATABASE_URL", PRODUCTION_URL)
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    for key, value in TEST_KEYS.items():
        monkeypatch.setenv(key, value)
    yield monkeypatch


def _generated(tmp_path: Path) -> bool:
    return (tmp_path / "instance" / "keys.json").exists()


@pytest.mark.parametrize("missing", REQUIRED_KEYS)
def test_create_app_refuses_each_missing_key_in_production(production_env, tmp_path, missing):
    from api import create_app

    production_env.delenv(missing)
    with pytest.raises(ConfigurationError) as refused:
        create_app()
    message = str(refused.value)
    assert message.startswith(f"{missing} is not set"), message
    assert not _generated(tmp_path)


def test_every_missing_key_is_named_at_once(production_env, tmp_path):
    from api import create_app

    for key in ("SECRET_KEY", "RISKLOOP_AUDIT_KEY"):
        production_env.delenv(key)
    with pytest.raises(ConfigurationError, match=r"^SECRET_KEY, RISKLOOP_AUDIT_KEY are not set"):
        create_app()
    assert not _generated(tmp_path)


def test_an_empty_key_is_a_missing_key(production_env, tmp_path):
    from api import create_app

    production_env.setenv("RISKLOOP_AUDIT_KEY", "")
    with pytest.raises(ConfigurationError, match=r"^RISKLOOP_AUDIT_KEY is not set"):
        create_app()
    assert not _generated(tmp_path)


MALFORMED = [
    ("SECRET_KEY", "   ", "SECRET_KEY is set but blank"),
    ("SECRET_KEY", "a-real-looking-secret\n", "SECRET_KEY has leading or trailing whitespace"),
    ("RISKLOOP_AUDIT_KEY", " audit-key-with-a-space", "RISKLOOP_AUDIT_KEY has leading or trailing"),
    (
        "RISKLOOP_AUDIT_KEY",
        "audit\x00key",
        "RISKLOOP_AUDIT_KEY has leading or trailing whitespace or a control",
    ),
    (
        "RISKLOOP_ENCRYPTION_KEYS",
        "not-a-fernet-key",
        "key 1 of 1 in RISKLOOP_ENCRYPTION_KEYS is not a valid",
    ),
    (
        "RISKLOOP_ENCRYPTION_KEYS",
        f"{VALID_FERNET},0123456789abcdef",
        "key 2 of 2 in RISKLOOP_ENCRYPTION_KEYS is not a valid",
    ),
    (
        "RISKLOOP_ENCRYPTION_KEYS",
        " , ",
        "no encryption key configured: set RISKLOOP_ENCRYPTION_KEYS",
    ),
    ("RISKLOOP_ENCRYPTION_KEYS", "  ", "RISKLOOP_ENCRYPTION_KEYS is set but blank"),
]


@pytest.mark.parametrize(
    ("key", "value", "expected"),
    MALFORMED,
    ids=[f"{k}-{n}" for n, (k, _, _) in enumerate(MALFORMED)],
)
def test_create_app_refuses_malformed_keys(production_env, tmp_path, key, value, expected):
    from api import create_app

    if "\x00" in value:  # an environment cannot hold NUL: pass it the way create_app takes config
        with pytest.raises(ConfigurationError) as refused:
            create_app({key: value})
    else:
        production_env.setenv(key, value)
        with pytest.raises(ConfigurationError) as refused:
            create_app()
    message = str(refused.value)
    assert expected in message, message
    secret = value.strip().split(",")[-1]
    assert not secret or secret not in message, "the refusal echoed the key"
    assert not _generated(tmp_path)


def test_embedded_mode_generates_missing_keys_once_owner_only(production_env, tmp_path):
    """The contrast: SQLite without keys starts, keeping generated keys in the instance folder."""
    from api import create_app

    production_env.setenv("DATABASE_URL", f"sqlite:///{tmp_path / 'embedded.sqlite'}")
    for key in REQUIRED_KEYS:
        production_env.delenv(key)
    first = create_app()
    stored = tmp_path / "instance" / "keys.json"
    assert stat.S_IMODE(stored.stat().st_mode) == 0o600
    assert set(json.loads(stored.read_text())) == set(REQUIRED_KEYS)
    second = create_app()
    assert all(first.config[k] == second.config[k] for k in REQUIRED_KEYS)


def _run(argv: list[str], env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    return subprocess.run(argv, env=env, cwd=ROOT, capture_output=True, text=True, timeout=timeout)


def _process_env(tmp_path: Path, drop: str | None = None, **extra: str) -> dict[str, str]:
    env = {
        k: v
        for k, v in os.environ.items()
        if not k.startswith(("RISKLOOP_", "GUNICORN_")) and k not in ("SECRET_KEY", "REDIS_URL")
    }
    env.update(TEST_KEYS)
    env.update(
        {
            "DATABASE_URL": PRODUCTION_URL,
            "REDIS_URL": f"redis://127.0.0.1:{free_port()}/0",
            "RISKLOOP_INSTANCE_PATH": str(tmp_path / "instance"),
            "PYTHONPATH": str(ROOT),
        }
    )
    if drop:
        env.pop(drop)
    env.update(extra)
    return env


@pytest.mark.parametrize(
    ("command", "drop", "extra"),
    [
        ("worker", "RISKLOOP_AUDIT_KEY", {}),
        ("scheduler", "SECRET_KEY", {}),
        ("worker", None, {"RISKLOOP_ENCRYPTION_KEYS": "not-a-fernet-key"}),
    ],
)
def test_worker_and_scheduler_refuse_to_start(tmp_path, command, drop, extra):
    done = _run([sys.executable, "-m", "api.cli", command], _process_env(tmp_path, drop, **extra))
    named = drop or next(iter(extra))
    assert done.returncode == 1, (done.stdout, done.stderr)
    assert done.stderr.startswith("Error: ") and named in done.stderr, done.stderr
    assert "Traceback" not in done.stderr
    assert "started" not in done.stdout
    assert not _generated(tmp_path)


def test_gunicorn_refuses_to_start_without_the_encryption_keys(tmp_path):
    port = free_port()
    done = _run(
        [
            sys.executable,
            "-m",
            "gunicorn",
            "-c",
            str(ROOT / "gunicorn.conf.py"),
            "--bind",
            f"127.0.0.1:{port}",
            "--workers",
            "1",
            "api:create_app()",
        ],
        _process_env(tmp_path, "RISKLOOP_ENCRYPTION_KEYS"),
    )
    assert done.returncode != 0
    assert "RISKLOOP_ENCRYPTION_KEYS is not set" in done.stdout + done.stderr
    assert not _generated(tmp_path)
