"""Fixtures of the integration tests: the command line's environment and the shipped
``sensitive_edit`` definition over a fresh database (SQLite and PostgreSQL)."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from sqlalchemy.orm import Session

from tests.support.app import TEST_KEYS
from tests.support.sensitive_edit import add_to_catalog
from workflow.engine import runtime


@pytest.fixture
def cli_env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> dict[str, str]:
    env = {
        "DATABASE_URL": f"sqlite:///{tmp_path / 'cli.sqlite'}",
        "RISKLOOP_INSTANCE_PATH": str(tmp_path / "instance"),
        # the test definitions' own task (record_note), registered as a deployment would
        "RISKLOOP_REGISTRIES": "tests.fixture_registry:registry",
        **TEST_KEYS,
    }
    for key, value in env.items():
        monkeypatch.setenv(key, value)
    return env


@pytest.fixture
def rt(engine_rt: runtime.Runtime) -> runtime.Runtime:
    """The test runtime with the shipped ``sensitive_edit`` definition (its cipher holds
    the test key, TEST_KEY)."""
    return add_to_catalog(engine_rt)


@pytest.fixture
def db(rt: runtime.Runtime) -> Iterator[Session]:
    """A session of ``rt`` (the sensitive-edit tests' database)."""
    assert rt.session_factory is not None
    with rt.session_factory() as s:
        yield s
