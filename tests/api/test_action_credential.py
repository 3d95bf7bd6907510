"""Firing an action checks the bearer token in the statement that locks the case
(``TokenCredential`` in the engine's lock) instead of in one of its own: the same
answers as every other operation — 401 for a missing, unknown, revoked or expired token
or a deactivated user, the roles as they are now — and a caller without a valid token
never holds the case's row lock."""

from __future__ import annotations

import threading
from datetime import timedelta

import psycopg
import pytest
from flask import Flask

from api.extensions import db
from tests.support.app import Api, submitted_approval
from workflow.accounts import users as accounts
from workflow.platform import clock
from workflow.records.identity import Actor

ADMIN = Actor("admin", frozenset({"admin"}))


def _approve(api: Api, case: int, token: str | None, **headers: str):  # noqa: ANN202
    if token is not None:
        headers["Authorization"] = f"Bearer {token}"
    return api.client.post(
        f"/api/v1/workflows/{case}/actions/approve",
        json={"amount": 5, "expected_version": 2},
        headers=headers,
    )


def test_a_valid_token_fires_and_the_audit_names_its_user(app: Flask, api: Api) -> None:
    case = submitted_approval(app, api)
    r = _approve(api, case, api.token("risk1"))
    assert r.status_code == 200, r.get_json()
    audit = api.get("risk1", f"/api/v1/workflows/{case}/audit").get_json()["items"]
    assert audit[-1]["actor"] == "risk1"


def test_missing_and_unknown_tokens_are_401_before_the_case_is_looked_at(
    app: Flask, api: Api
) -> None:
    case = submitted_approval(app, api)
    for token in (None, "not-a-token"):
        for target in (case, 999_999):  # an existing case and a missing one answer alike
            r = api.client.post(
                f"/api/v1/workflows/{target}/actions/approve",
                data="not json at all",  # the body is not read either
                headers={"Authorization": f"Bearer {token}"} if token else {},
            )
            assert r.status_code == 401, (token, target, r.get_json())
    r = api.client.post(
        f"/api/v1/workflows/{case}/actions/approve",
        json={},
        headers={"Authorization": "Basic cmlzazE6eA=="},
    )
    assert r.status_code == 401


def test_a_signed_out_token_is_refused_on_the_next_action(app: Flask, api: Api) -> None:
    case = submitted_approval(app, api)
    token = api.token("risk1")
    listed = api.client.get("/api/v1/workflows", headers={"Authorization": f"Bearer {token}"})
    assert listed.status_code == 200
    signed_out = api.client.delete(
        "/api/v1/auth/token", headers={"Authorization": f"Bearer {token}"}
    )
    assert signed_out.status_code == 204
    assert _approve(api, case, token).status_code == 401
    api.tokens.pop("risk1")
    assert _approve(api, case, api.token("risk1")).status_code == 200  # a new sign-in works


def test_an_expired_token_is_refused(app: Flask, api: Api) -> None:
    case = submitted_approval(app, api)
    token = api.token("risk1")
    clock.freeze(clock.now() + timedelta(days=30))
    try:
        r = _approve(api, case, token)
    finally:
        clock.freeze(None)
    assert r.status_code == 401
    assert "expired" in r.get_json()["detail"]


def test_deactivation_and_role_changes_apply_to_the_next_action(app: Flask, api: Api) -> None:
    case = submitted_approval(app, api)
    risk1, risk2 = api.token("risk1"), api.token("risk2")
    with app.app_context():
        accounts.set_roles(db.session, "risk1", ["auditor"], by=ADMIN)
        accounts.set_active(db.session, "risk2", False, by=ADMIN)
        db.session.commit()
    r = _approve(api, case, risk1)
    assert r.status_code == 403 and r.get_json()["code"] == "action.role"
    assert _approve(api, case, risk2).status_code == 401
    with app.app_context():
        accounts.set_roles(db.session, "risk1", ["risk_officer"], by=ADMIN)
        db.session.commit()
    assert _approve(api, case, risk1).status_code == 200


def test_a_replayed_idempotency_key_is_found_for_the_token_s_user(app: Flask, api: Api) -> None:
    case = submitted_approval(app, api)
    first = _approve(api, case, api.token("risk1"), **{"Idempotency-Key": "k-approve-1"})
    again = _approve(api, case, api.token("risk1"), **{"Idempotency-Key": "k-approve-1"})
    assert first.status_code == again.status_code == 200
    assert again.get_json()["replayed"] is True
    # the same key is someone else's own: not a replay of risk1's call
    other = _approve(api, case, api.token("risk2"), **{"Idempotency-Key": "k-approve-1"})
    assert other.status_code == 409  # the case has moved on: approve is not allowed now


@pytest.mark.parametrize("db_url", ["postgresql"], indirect=True)
def test_an_invalid_token_takes_no_row_lock(app: Flask, api: Api, db_url: str) -> None:
    """Another transaction holds the case's row: a valid token's approve would wait for
    it, an invalid token's is answered at once, without waiting for the lock."""
    case = submitted_approval(app, api)
    revoked = api.token("risk1")
    assert (
        api.client.delete(
            "/api/v1/auth/token", headers={"Authorization": f"Bearer {revoked}"}
        ).status_code
        == 204
    )
    dsn = db_url.replace("postgresql+psycopg://", "postgresql://")
    answers: list[int] = []
    with psycopg.connect(dsn) as holder:
        holder.execute("SELECT 1 FROM workflow_instances WHERE id = %s FOR UPDATE", (case,))
        for token in (revoked, "never-issued"):
            worker = threading.Thread(
                target=lambda t=token: answers.append(_approve(api, case, t).status_code)
            )
            worker.start()
            worker.join(timeout=60)  # a hang guard: had it asked for the lock, it would wait
            assert not worker.is_alive(), "the refused request waited for the row lock"
        holder.rollback()
    assert answers == [401, 401]
    assert _approve(api, case, api.token("risk2")).status_code == 200
