"""Fixtures every level shares: databases (SQLite and PostgreSQL), an engine runtime and the
app with its clients. Helpers live in ``tests/support``."""

from __future__ import annotations

import os
from collections.abc import Iterator
from pathlib import Path
from types import CodeType

import pytest
from flask import Flask
from flask.testing import FlaskClient
from hypothesis import settings
from sqlalchemy.orm import Session

from api import composition  # noqa: F401  every model of riskloop is on Base.metadata (explicit imports)
from tests.support.alerts import SECRET as WEBHOOK_SECRET
from tests.support.app import Api, lent_without_sender, make_app
from tests.support.databases import fresh_database
from tests.support.runtime import engine_runtime
from workflow.accounts import users as accounts
from workflow.engine import runtime

# CI runs the property tests with a fixed seed sequence so a landing is reproducible;
# developers' runs keep exploring new examples.
settings.register_profile("ci", derandomize=True, database=None)
if os.environ.get("CI", "").lower() == "true":
    settings.load_profile("ci")

# argon2 at full cost (~200 ms a hash) would dominate the suite's run time.
accounts.set_hash_cost(time_cost=1, memory_cost=1024)


TESTS = Path(__file__).parent
FOLDER_MARKERS = {"browser": pytest.mark.browser, "e2e": pytest.mark.e2e}
# Helpers that reach the PostgreSQL test server; a test or fixture naming one needs it.
POSTGRES_HELPERS = frozenset({"fresh_postgres", "shared_postgres", "postgres_available"})


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Mark by folder (``browser``, ``e2e``) and by database (``postgres``), so that
    ``-m "not postgres"`` runs where no PostgreSQL server answers."""
    for item in items:
        folder = item.path.relative_to(TESTS).parts[0] if item.path.is_relative_to(TESTS) else ""
        if folder in FOLDER_MARKERS:
            item.add_marker(FOLDER_MARKERS[folder])
        if _needs_postgres(item):
            item.add_marker(pytest.mark.postgres)


def _needs_postgres(item: pytest.Item) -> bool:
    """The ``postgresql`` side of a parametrized database (``db_url``, ``empty_db_url``, a
    ``kind``…), or a test or one of its fixtures calling a PostgreSQL helper."""
    callspec = getattr(item, "callspec", None)
    if callspec is not None and any(value == "postgresql" for value in callspec.params.values()):
        return True
    functions = [getattr(item, "function", None)]
    fixture_info = getattr(item, "_fixtureinfo", None)
    if fixture_info is not None:
        functions += [defs[-1].func for defs in fixture_info.name2fixturedefs.values() if defs]
    return any(_calls_postgres(fn.__code__) for fn in functions if hasattr(fn, "__code__"))


def _calls_postgres(code: CodeType) -> bool:
    names = set(code.co_names)
    if names & POSTGRES_HELPERS or ("fresh_database" in names and "postgresql" in code.co_consts):
        return True
    return any(_calls_postgres(const) for const in code.co_consts if isinstance(const, CodeType))


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
    yield from engine_runtime(db_url)


@pytest.fixture
def session(engine_rt: runtime.Runtime) -> Iterator[Session]:
    with engine_rt.session() as s:
        yield s


@pytest.fixture
def app(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    """The app over ``db_url`` with the test users and definitions; tests drain the outbox."""
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(db_url, tmp_path)
    with lent_without_sender(app):  # tests drain the outbox themselves (see drain())
        yield app


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def module_db_url(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    """A database of its own for a whole module (see ``module_app``): on PostgreSQL not the
    shared one, which function-scoped ``db_url`` empties between tests; ``make_app`` creates
    the tables."""
    with fresh_database(request.param, tmp_path_factory.mktemp("db")) as url:
        yield url


@pytest.fixture(scope="module")
def module_app(module_db_url: str, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Flask]:
    """The app of fixture ``app``, built once for the tests of a module that only read or are
    refused before anything is written: a module overrides ``app`` with it, or its tests
    take ``module_api``."""
    tmp = tmp_path_factory.mktemp("app")
    with pytest.MonkeyPatch.context() as monkeypatch:
        monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp / "instance"))
        app = make_app(module_db_url, tmp)
        with lent_without_sender(app):
            yield app


@pytest.fixture(scope="module")
def module_api(module_app: Flask) -> Api:
    """``api`` over ``module_app``, its sign-ins kept for the module (the login rate limit
    counts every sign-in of the module's tests)."""
    return Api(module_app.test_client())


@pytest.fixture
def client(app: Flask) -> FlaskClient:
    return app.test_client()


@pytest.fixture
def api(client: FlaskClient) -> Api:
    return Api(client)


@pytest.fixture
def webhook_secret(monkeypatch: pytest.MonkeyPatch) -> str:
    """Alert intake is open: the webhook secret is configured."""
    monkeypatch.setenv("RISKLOOP_WEBHOOK_SECRET", WEBHOOK_SECRET)
    return WEBHOOK_SECRET
