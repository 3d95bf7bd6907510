"""Generated requests to the auditor and report endpoints, as an auditor and as a risk
officer: never a 5xx, always a documented status and content type."""

from __future__ import annotations

from pathlib import Path

import pytest
import schemathesis
from hypothesis import HealthCheck, given, settings
from schemathesis.specs.openapi.checks import ignored_auth

from tests.support.app import PASSWORD, make_app


@pytest.mark.parametrize("username", ["auditor1", "risk1"])
def test_generated_requests_to_audit_and_report_endpoints_match_their_documentation(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, username: str
) -> None:
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(
        f"sqlite:///{tmp_path / 'fuzz.sqlite'}",
        tmp_path,
        RISKLOOP_LOGIN_RATE_LIMIT="100000 per minute",
    )
    token = (
        app.test_client()
        .post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
        .get_json()
    )
    headers = {"Authorization": f"Bearer {token['access_token']}"}
    schema = schemathesis.openapi.from_wsgi("/api/v1/openapi.json", app)
    operations = [op.ok() for op in schema.get_all_operations()]
    mine = [op for op in operations if op.path.startswith(("/api/v1/audit", "/api/v1/reports"))]
    assert len(mine) == 6
    for operation in mine:

        @given(case=operation.as_strategy())
        @settings(
            max_examples=30,
            deadline=None,
            database=None,
            derandomize=True,
            suppress_health_check=list(HealthCheck),
        )
        def check(case) -> None:  # noqa: ANN001
            response = case.call(headers=headers)
            assert response.status_code < 500, (case.path, response.text[:300])
            case.validate_response(response, excluded_checks=[ignored_auth])

        check()
