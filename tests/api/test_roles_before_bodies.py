"""Roles before bodies where the answer depends on the case's state: an action is
authorised before its body is loaded with the engine's own checks, in the order ``fire``
makes them — so a step that is someone else's is a 403 whatever the body says, two
approvers racing still get a clean 409, and a repeated request is still replayed. The
matrix (tests/api/test_authz_matrix.py) covers every route and role; this covers what the
matrix's fixed states do not. And no operation can be added without declaring who may
call it."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from flask.views import MethodView
from flask_smorest import Blueprint

from api import features
from tests.support.app import Api, make_app
from tests.support.onboarding import through_due_diligence


def at_dual_approval(app: Flask, api: Api, n: int) -> dict[str, Any]:
    case = through_due_diligence(app, api, n, "pass")
    assert case["state"] == "dual_approval", case
    return case


def act_raw(api: Api, user: str, case: int, trigger: str, data: bytes, **headers: str) -> Any:
    return api.post(
        user,
        f"/api/v1/workflows/{case}/actions/{trigger}",
        data=data,
        content_type="application/json",
        headers=headers,
    )


def test_the_second_approval_is_refused_to_a_risk_officer_whatever_the_body(
    app: Flask, api: Api
) -> None:
    case = at_dual_approval(app, api, 61)
    assert api.act("risk1", case["id"], "approve").status_code == 200
    # Given the first approval is done, the second is legal's or a manager's: risk2 is
    # refused (403) with a well-formed body and with every malformed one alike.
    for body in (
        b"{}",
        b'{"comment": 5}',
        b'{"expected_version": "two"}',
        b"[1]",
        b'{"unfinished": ',
    ):
        r = act_raw(api, "risk2", case["id"], "approve", body)
        assert r.status_code == 403 and "legal, manager" in r.get_json()["detail"], (
            body,
            r.get_json(),
        )
    # legal, who may, is told what is wrong with the body
    assert act_raw(api, "legal1", case["id"], "approve", b'{"comment": 5}').status_code == 422
    assert act_raw(api, "legal1", case["id"], "approve", b'{"comment": "ok"}').status_code == 200


def test_two_approvers_racing_through_the_api_still_get_a_clean_409(app: Flask, api: Api) -> None:
    case = at_dual_approval(app, api, 62)
    version = case["version"]
    first = api.act("risk1", case["id"], "approve", expected_version=version)
    assert first.status_code == 200
    # risk2 loaded the same version: the stale version answers first, as in fire()
    late = api.act("risk2", case["id"], "approve", expected_version=version)
    assert late.status_code == 409 and late.get_json()["current_version"] == version + 1, (
        late.get_json()
    )


def test_a_repeated_request_is_replayed_after_the_case_moved_on(app: Flask, api: Api) -> None:
    case = at_dual_approval(app, api, 63)
    key = {"Idempotency-Key": "approve-63"}
    first = act_raw(api, "risk1", case["id"], "approve", b'{"comment": "first"}', **key)
    again = act_raw(api, "risk1", case["id"], "approve", b'{"comment": "first"}', **key)
    assert first.status_code == again.status_code == 200, again.get_json()
    assert again.get_json()["replayed"] is True
    # the same request without the key is judged on the case as it is now
    assert act_raw(api, "risk1", case["id"], "approve", b'{"comment": "first"}').status_code == 403


def test_an_operation_that_declares_no_check_stops_the_app(
    tmp_path: Path, sqlite_url: str, monkeypatch: pytest.MonkeyPatch
) -> None:
    blp = Blueprint("undeclared", __name__, url_prefix="/api/v1/undeclared")

    @blp.route("")
    class Undeclared(MethodView):
        @blp.response(200)
        def get(self) -> dict[str, Any]:
            return {}

    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.setattr(
        features, "FEATURES", [*features.FEATURES, lambda app, api: api.register_blueprint(blp)]
    )
    with pytest.raises(RuntimeError, match=r"@allow.*GET /api/v1/undeclared"):
        make_app(sqlite_url, tmp_path)
