from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path

import pytest
from hypothesis import settings
from sqlalchemy import create_engine
from sqlalchemy.orm import Session

from api import composition  # every model of riskloop is on Base.metadata (explicit imports)
from tests import fixture_registry
from tests.databases import fresh_database
from workflow.accounts import users as accounts
from workflow.engine import runtime
from workflow.platform import clock
from workflow.platform.db import Base

FIXTURES = Path(__file__).parent / "fixtures"
# The field-encryption key of the test engine objects (the same as the test apps').
ENCRYPTION_KEY = "3q2-7wEjT5Ue8gGz8ff6k8pO1o0mQ4nH9Tk8yq1bZ3I="

# CI runs the property tests with a fixed seed sequence so a landing is reproducible;
# developers' runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")

# argon2 at full cost (~200 ms a hash) would dominate the suite's run time.
accounts.set_hash_cost(time_cost=1, memory_cost=1024)


@pytest.fixture(params=["sqlite", "postgresql"])
def db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """A database with every table already created (PostgreSQL: copied from a template)."""
    with fresh_database(request.param, tmp_path, with_schema=True) as url:
        yield url


@pytest.fixture(params=["sqlite", "postgresql"])
def empty_db_url(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[str]:
    """An empty database (for migration tests)."""
    with fresh_database(request.param, tmp_path) as url:
        yield url


@pytest.fixture
def sqlite_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("sqlite", tmp_path) as url:
        yield url


@pytest.fixture
def pg_url(tmp_path: Path) -> Iterator[str]:
    with fresh_database("postgresql", tmp_path) as url:
        yield url


@pytest.fixture
def engine_rt(db_url: str) -> Iterator[runtime.Runtime]:
    """An engine runtime over a fresh database with the test definitions loaded."""
    yield from _runtime(db_url)


def _runtime(url: str) -> Iterator[runtime.Runtime]:
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    rt = composition.build_runtime(engine, {"RISKLOOP_TIMEZONE": "Asia/Shanghai"},
                                   folders=[FIXTURES / "definitions"], keys=[ENCRYPTION_KEY],
                                   extra=[fixture_registry.registry])
    with rt.session() as s:
        rt.catalog.sync(s)
        s.commit()
    yield rt
    clock.freeze(None)
    engine.dispose()


@pytest.fixture
def session(engine_rt: runtime.Runtime) -> Iterator[Session]:
    with engine_rt.session() as s:
        yield s
