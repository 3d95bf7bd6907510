"""HTTP hardening: nothing personal is left in caches (`Cache-Control: no-store`),
`OPTIONS` answers with the allowed methods instead of a 401, and `/metrics` is not
open to anyone who can reach the port."""

from __future__ import annotations

import pytest

from tests.support.app import make_app

METRICS_TOKEN = "scrape-me-7f3c9a"


def test_api_responses_are_not_stored_by_caches(api):
    responses = {
        "token": api.post(
            None,
            "/api/v1/auth/token",
            json={"username": "risk1", "password": "correct-horse-battery"},
        ),
        "inbox": api.get("risk1", "/api/v1/tasks"),
        "401": api.get(None, "/api/v1/tasks"),
        "404": api.get("risk1", "/api/v1/workflows/999999"),
        "health": api.get(None, "/healthz"),
    }
    for name, response in responses.items():
        assert response.headers.get("Cache-Control") == "no-store", name


def test_documentation_and_static_assets_stay_cacheable(api):
    for path in ("/api/v1/openapi.json", "/api/docs", "/api/docs/static/swagger-ui-bundle.js"):
        response = api.get(None, path)
        assert response.status_code == 200
        assert "no-store" not in response.headers.get("Cache-Control", ""), path


def test_options_answers_with_the_allowed_methods_and_no_credentials(api):
    for path, methods in (
        ("/api/v1/tasks", {"GET", "HEAD", "OPTIONS"}),
        ("/api/v1/workflows/1/actions/approve", {"POST", "OPTIONS"}),
        ("/api/v1/auth/token", {"POST", "DELETE", "OPTIONS"}),
    ):
        r = api.client.options(
            path,
            headers={"Origin": "https://evil.example", "Access-Control-Request-Method": "POST"},
        )
        assert r.status_code == 204, (path, r.status_code)
        assert r.data == b""
        assert set(r.headers["Allow"].split(", ")) == methods
        assert set(r.headers["Access-Control-Allow-Methods"].split(", ")) == methods
        for leak in (
            "Access-Control-Allow-Origin",
            "Access-Control-Allow-Credentials",
            "Set-Cookie",
        ):
            assert leak not in r.headers, (path, leak)
    assert api.client.options("/api/v1/no-such-thing").status_code == 404


@pytest.fixture
def app_with(db_url, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    return lambda **extra: make_app(db_url, tmp_path, **extra)


def test_metrics_need_the_configured_bearer_token(app_with):
    client = app_with(RISKLOOP_METRICS_TOKEN=METRICS_TOKEN).test_client()
    missing = client.get("/metrics")
    assert missing.status_code == 401 and missing.mimetype == "application/problem+json"
    assert missing.headers["WWW-Authenticate"].startswith("Bearer")
    assert client.get("/metrics", headers={"Authorization": "Bearer wrong"}).status_code == 401
    served = client.get("/metrics", headers={"Authorization": f"Bearer {METRICS_TOKEN}"})
    assert served.status_code == 200 and b"riskloop_http_requests_total" in served.data


def test_embedded_metrics_without_a_token_are_served_on_loopback_only(
    sqlite_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    client = make_app(sqlite_url, tmp_path).test_client()
    assert client.get("/metrics").status_code == 200  # the test client calls from 127.0.0.1
    assert client.get("/metrics", environ_base={"REMOTE_ADDR": "::1"}).status_code == 200
    remote = client.get("/metrics", environ_base={"REMOTE_ADDR": "203.0.113.9"})
    assert remote.status_code == 403 and "RISKLOOP_METRICS_TOKEN" in remote.get_json()["detail"]


def test_production_metrics_without_a_token_are_refused_even_on_loopback(
    pg_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    client = make_app(pg_url, tmp_path).test_client()
    refused = client.get("/metrics")
    assert refused.status_code == 403 and "RISKLOOP_METRICS_TOKEN" in refused.get_json()["detail"]
