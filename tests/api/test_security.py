"""Hardening: security headers on every response, HSTS and Secure cookies behind TLS,
bounded bodies, login rate limiting and lockout, and logs without secrets."""

from __future__ import annotations

import json
import logging
from datetime import timedelta

import pytest
from argon2 import extract_parameters
from sqlalchemy import func, select

from api.extensions import db
from api.logging_setup import JsonFormatter, mask
from tests.support.app import PASSWORD, make_app
from workflow.accounts import users as accounts
from workflow.accounts.users import LOCK_AFTER
from workflow.records.identity import Actor
from workflow.records.models import LoginFailure, User


def _assert_hardened(response) -> None:  # noqa: ANN001
    csp = response.headers["Content-Security-Policy"]
    script_src = next(p for p in csp.split(";") if p.strip().startswith("script-src"))
    assert "'unsafe-inline'" not in script_src and "frame-ancestors 'none'" in csp
    assert response.headers["X-Frame-Options"] == "DENY"
    assert response.headers["X-Content-Type-Options"] == "nosniff"
    assert response.headers["X-Request-ID"]


def test_every_kind_of_response_carries_the_security_headers(api):
    responses = [
        api.get(None, "/healthz"),
        api.get(None, "/api/v1/tasks"),  # 401 problem
        api.get("risk1", "/api/v1/workflows/999999"),  # 404 problem
        api.get(None, "/no/such/page"),
        api.get(None, "/api/v1/openapi.json"),
        api.post(None, "/api/v1/auth/token", data=b"{", content_type="application/json"),
    ]
    for response in responses:
        _assert_hardened(response)
        assert "Strict-Transport-Security" not in response.headers  # plain HTTP: no HSTS


def test_behind_a_tls_proxy_hsts_is_sent_and_the_session_cookie_is_secure(
    db_url, tmp_path, monkeypatch
):
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(db_url, tmp_path, RISKLOOP_PROXY_HOPS=1)
    client = app.test_client()
    secure = client.get(
        "/healthz", headers={"X-Forwarded-Proto": "https", "X-Forwarded-For": "203.0.113.9"}
    )
    assert secure.headers["Strict-Transport-Security"].startswith("max-age=")
    plain = client.get("/healthz")
    assert "Strict-Transport-Security" not in plain.headers
    assert app.config["SESSION_COOKIE_SECURE"] is True
    assert (
        app.config["SESSION_COOKIE_HTTPONLY"] is True
        and app.config["SESSION_COOKIE_SAMESITE"] == "Lax"
    )


def test_an_oversized_body_is_refused_with_a_413_problem(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(db_url, tmp_path, MAX_CONTENT_LENGTH=4096)
    r = app.test_client().post(
        "/api/v1/auth/token",
        data=b'{"username": "' + b"x" * 10000 + b'"}',
        content_type="application/json",
    )
    assert r.status_code == 413 and r.mimetype == "application/problem+json"
    assert r.get_json()["status"] == 413


def test_login_attempts_are_rate_limited_per_address(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(db_url, tmp_path, RISKLOOP_LOGIN_RATE_LIMIT="5 per minute")
    client = app.test_client()
    users = ["sales1", "sales2", "risk1", "risk2", "legal1"]
    answers = [
        client.post("/api/v1/auth/token", json={"username": u, "password": "wrong-guess"})
        for u in users
    ]
    assert [a.status_code for a in answers] == [401] * 5
    # sign-in answers say what is left of the limit; other operations skip the limiter
    assert [a.headers["X-RateLimit-Remaining"] for a in answers] == ["4", "3", "2", "1", "0"]
    assert "X-RateLimit-Remaining" not in client.get("/api/v1/definitions").headers
    limited = client.post("/api/v1/auth/token", json={"username": "manager1", "password": PASSWORD})
    assert limited.status_code == 429 and limited.mimetype == "application/problem+json"
    assert int(limited.headers["Retry-After"]) > 0
    other = client.post(
        "/api/v1/auth/token",
        json={"username": "manager1", "password": PASSWORD},
        environ_base={"REMOTE_ADDR": "198.51.100.7"},
    )
    assert other.status_code == 200  # another address is not affected


def test_repeated_failures_lock_the_account_even_with_the_right_password(api):
    for _ in range(LOCK_AFTER):
        assert (
            api.post(
                None, "/api/v1/auth/token", json={"username": "auditor1", "password": "nope-nope"}
            ).status_code
            == 401
        )
    locked = api.post(
        None, "/api/v1/auth/token", json={"username": "auditor1", "password": PASSWORD}
    )
    assert locked.status_code == 401 and "locked" in locked.get_json()["detail"]


def _login_answer(response) -> tuple:  # noqa: ANN001
    body = {k: v for k, v in response.get_json().items() if k != "request_id"}
    return response.status_code, response.mimetype, body


def test_an_unknown_username_fails_and_locks_exactly_like_an_existing_one(app, api):
    """Lockout must not tell which accounts exist: answers match attempt for attempt."""
    with app.app_context():
        users_before = db.session.scalar(select(func.count()).select_from(User))
    answers = {}
    for username in ("auditor1", "no-such-person"):
        answers[username] = [
            _login_answer(
                api.post(
                    None, "/api/v1/auth/token", json={"username": username, "password": "nope-nope"}
                )
            )
            for _ in range(LOCK_AFTER + 1)
        ]
    assert answers["auditor1"] == answers["no-such-person"]
    wrong, locked = answers["auditor1"][0], answers["auditor1"][-1]
    assert wrong[0] == 401 and wrong[2]["detail"] == "wrong username or password"
    assert locked[0] == 401 and "locked" in locked[2]["detail"]
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(User)) == users_before
        failures = db.session.get(LoginFailure, ("no-such-person", "127.0.0.1"))
        assert failures.failed_logins == LOCK_AFTER and failures.locked_until is not None


def test_creating_a_user_clears_failures_recorded_under_that_name_before_it_existed(app, api):
    for _ in range(LOCK_AFTER):
        api.post(None, "/api/v1/auth/token", json={"username": "newcomer", "password": "nope-nope"})
    with app.app_context():
        accounts.create_user(db.session, "newcomer", PASSWORD, ["sales"], by=Actor.system("test"))
        db.session.commit()
        assert db.session.get(LoginFailure, ("newcomer", "127.0.0.1")) is None
    assert (
        api.post(
            None, "/api/v1/auth/token", json={"username": "newcomer", "password": PASSWORD}
        ).status_code
        == 200
    )


def test_a_lock_that_has_run_out_starts_a_fresh_count_and_stale_unknown_names_are_pruned(app, api):
    from workflow.platform import clock

    def login(username: str, password: str = "nope-nope") -> int:
        return api.post(
            None, "/api/v1/auth/token", json={"username": username, "password": password}
        ).status_code

    clock.freeze(clock.now())  # the api fixture lets the clock run again afterwards
    for _ in range(LOCK_AFTER):
        assert login("auditor1") == 401 and login("ghost") == 401
    clock.advance(accounts.LOCK_FOR + timedelta(seconds=1))
    # one typo after the lock ran out does not lock again; the right password works
    assert login("auditor1") == 401
    assert login("auditor1", PASSWORD) == 200
    with app.app_context():
        clock.advance(timedelta(seconds=-2))  # while the lock still holds, nothing goes
        assert accounts.prune_login_failures(db.session) == 0
        clock.advance(timedelta(seconds=2))
        assert accounts.prune_login_failures(db.session) == 1
        db.session.commit()
        assert db.session.get(LoginFailure, ("ghost", "127.0.0.1")) is None


def test_the_decoy_hash_of_unknown_usernames_costs_what_a_real_one_does(app):
    """The same argon2 parameters give the same verification time (timing reveals nothing)."""
    with app.app_context():
        real = db.session.scalar(select(User.password_hash).where(User.username == "risk1"))
    assert extract_parameters(accounts._DUMMY_HASH) == extract_parameters(real)


def test_logs_carry_request_ids_and_never_passwords_or_tokens(api, caplog):
    caplog.set_level(logging.DEBUG)
    token = api.token("risk1")
    api.post(
        None, "/api/v1/auth/token", json={"username": "risk2", "password": "a-wrong-secret-pass"}
    )
    api.get("risk1", "/api/v1/tasks", headers={"X-Request-ID": "req-abc-123"})
    formatter = JsonFormatter()
    lines = [formatter.format(r) for r in caplog.records]
    text = "\n".join(lines)
    assert PASSWORD not in text and "a-wrong-secret-pass" not in text and token not in text
    access = [json.loads(line) for line in lines if '"logger": "riskloop.access"' in line]
    tasks_line = next(e for e in access if e.get("route") == "/api/v1/tasks")
    assert tasks_line["request_id"] == "req-abc-123" and tasks_line["status"] == 200


@pytest.mark.parametrize(
    "raw",
    [
        "Authorization: Bearer abc.def-123",
        'password="hunter2"',
        "token=abcdef",
        "SECRET_KEY: s3cr3t",
    ],
)
def test_secret_looking_values_are_masked_in_messages(raw):
    assert not any(secret in mask(raw) for secret in ("abc.def-123", "hunter2", "abcdef", "s3cr3t"))
