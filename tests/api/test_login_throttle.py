"""Failed sign-ins are throttled per source address first: one attacker's address cannot
lock a user out, however long it keeps trying; only failures from many addresses at
once lock the account itself, and only while they keep coming."""

from __future__ import annotations

import pytest

from tests.support.app import PASSWORD, make_app
from workflow.accounts.users import ACCOUNT_LOCK_AFTER, LOCK_AFTER, LOCK_FOR
from workflow.platform import clock

ATTACKER = "203.0.113.66"
VICTIM = "198.51.100.7"


@pytest.fixture
def client(db_url, tmp_path, monkeypatch):  # noqa: ANN001, ANN201
    """The per-address rate limit set high: these tests are about lockout, not about it."""
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    yield make_app(db_url, tmp_path, RISKLOOP_LOGIN_RATE_LIMIT="1000 per minute").test_client()
    clock.freeze(None)


def sign_in(client, username: str, password: str, address: str):  # noqa: ANN001, ANN201
    return client.post(
        "/api/v1/auth/token",
        json={"username": username, "password": password},
        environ_base={"REMOTE_ADDR": address},
    )


def test_failures_from_one_address_lock_that_address_out_and_not_the_user(client):
    for _ in range(LOCK_AFTER):
        assert sign_in(client, "auditor1", "nope-nope", ATTACKER).status_code == 401
    locked = sign_in(client, "auditor1", PASSWORD, ATTACKER)
    assert locked.status_code == 401 and "locked" in locked.get_json()["detail"]
    assert int(locked.headers["Retry-After"]) > 0
    assert sign_in(client, "auditor1", PASSWORD, VICTIM).status_code == 200


def test_one_address_trying_for_hours_never_locks_the_user_out(client):
    clock.freeze(clock.now())  # the app fixture lets the clock run again afterwards
    for _ in range(12):  # three hours of five guesses every time the address lock runs out
        for _ in range(LOCK_AFTER):
            assert sign_in(client, "auditor1", "nope-nope", ATTACKER).status_code == 401
        assert sign_in(client, "auditor1", PASSWORD, VICTIM).status_code == 200
        clock.advance(LOCK_FOR)
    assert sign_in(client, "auditor1", PASSWORD, VICTIM).status_code == 200


def test_failures_from_many_addresses_at_once_lock_the_account_for_a_while(client):
    clock.freeze(clock.now())
    addresses = [f"203.0.113.{n}" for n in range(1, ACCOUNT_LOCK_AFTER // LOCK_AFTER + 1)]
    for address in addresses:
        for _ in range(LOCK_AFTER):
            assert sign_in(client, "auditor1", "nope-nope", address).status_code == 401
    locked = sign_in(client, "auditor1", PASSWORD, VICTIM)
    assert locked.status_code == 401 and "locked" in locked.get_json()["detail"]
    assert 0 < int(locked.headers["Retry-After"]) <= LOCK_FOR.total_seconds()
    clock.advance(LOCK_FOR)  # the failures are old now: the account opens again
    assert sign_in(client, "auditor1", PASSWORD, VICTIM).status_code == 200


def test_an_unknown_username_is_throttled_exactly_like_an_existing_one(client):
    clock.freeze(clock.now())
    addresses = [f"203.0.113.{n}" for n in range(1, ACCOUNT_LOCK_AFTER // LOCK_AFTER + 1)]

    def answers(username: str) -> list[tuple]:
        seen = []
        for address in [*addresses, VICTIM]:
            for _ in range(LOCK_AFTER + 1):
                r = sign_in(client, username, "nope-nope", address)
                seen.append((r.status_code, r.get_json()["detail"]))  # Retry-After: real time
        return seen

    assert answers("auditor1") == answers("no-such-person")


def test_a_successful_sign_in_clears_only_its_own_address_count(client):
    for _ in range(LOCK_AFTER - 1):
        sign_in(client, "auditor1", "nope-nope", ATTACKER)
        sign_in(client, "auditor1", "nope-nope", VICTIM)
    assert sign_in(client, "auditor1", PASSWORD, VICTIM).status_code == 200
    for _ in range(2):  # a fresh count: neither the first nor the second failure locks
        wrong = sign_in(client, "auditor1", "nope-nope", VICTIM)
        assert wrong.status_code == 401 and "locked" not in wrong.get_json()["detail"]
    assert "locked" not in sign_in(client, "auditor1", "nope-nope", ATTACKER).get_json()["detail"]
    assert "locked" in sign_in(client, "auditor1", "nope-nope", ATTACKER).get_json()["detail"]
