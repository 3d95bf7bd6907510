"""Readiness: ``/readyz`` is 200 when PostgreSQL and Redis answer, and a 503 problem
document naming the dependency that does not answer otherwise; ``/healthz`` (liveness)
stays 200 either way. The outages are simulated by pointing at a closed port, so the
shared services keep running."""

from __future__ import annotations

import pytest

from tests.support.app import TEST_KEYS
from tests.support.databases import (
    PG_ADMIN_URL,
    REDIS_TEST_URL,
    postgres_available,
    redis_available,
    require,
)
from tests.support.services import free_port


@pytest.fixture
def client_for(monkeypatch, tmp_path):
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path))

    def build(database_url: str, redis_url: str):  # noqa: ANN202
        from api import create_app

        app = create_app({"DATABASE_URL": database_url, "REDIS_URL": redis_url, **TEST_KEYS})
        return app.test_client()

    yield build


def _closed_port() -> int:
    return free_port()  # bound and released: nothing listens there


def test_ready_when_database_and_broker_answer(client_for):
    require("PostgreSQL", postgres_available())
    require("Redis", redis_available())
    client = client_for(PG_ADMIN_URL, REDIS_TEST_URL)
    ready = client.get("/readyz")
    assert ready.status_code == 200, ready.get_data(as_text=True)
    assert ready.get_json() == {"status": "ready", "checks": {"database": "ok", "broker": "ok"}}
    assert client.get("/healthz").status_code == 200


@pytest.mark.parametrize("failing", ["database", "broker"])
def test_not_ready_names_the_dependency_that_does_not_answer(client_for, failing):
    require("PostgreSQL", postgres_available())
    require("Redis", redis_available())
    closed = _closed_port()
    database_url = (
        f"postgresql+psycopg://postgres@127.0.0.1:{closed}/riskloop"
        if failing == "database"
        else PG_ADMIN_URL
    )
    redis_url = f"redis://127.0.0.1:{closed}/0" if failing == "broker" else REDIS_TEST_URL
    client = client_for(database_url, redis_url)

    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.mimetype == "application/problem+json"
    assert ready.headers["Retry-After"]
    body = ready.get_json()
    assert body["status"] == 503 and body["type"].endswith("/unavailable")
    assert body["title"] == "Service not ready"
    assert body["detail"] == f"{failing} unavailable"
    assert body["unavailable"] == [failing]
    healthy = "broker" if failing == "database" else "database"
    assert body["checks"][failing].startswith("unavailable: ")
    assert body["checks"][healthy] == "ok"
    assert client.get("/healthz").status_code == 200  # alive, only not ready


def test_both_down_are_both_named(client_for):
    closed = _closed_port()
    client = client_for(
        f"postgresql+psycopg://postgres@127.0.0.1:{closed}/riskloop",
        f"redis://127.0.0.1:{closed}/0",
    )
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["unavailable"] == ["database", "broker"]
    assert ready.get_json()["detail"] == "database and broker unavailable"
    assert client.get("/healthz").status_code == 200
