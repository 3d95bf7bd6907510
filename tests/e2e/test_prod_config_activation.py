"""Proof 7 — a governed rule change reaches every process without a restart.

gunicorn (two workers), ``riskloop worker`` and ``riskloop scheduler`` run with the
shipped workflows on PostgreSQL and a private Redis. A risk officer drafts the
central-SOE threshold at 70 % instead of 80 % through HTTP; the worker backtests it; a
manager approves the exact content hash; then clients are admitted through both
gunicorn workers and screened by the Dramatiq worker, which was told nothing but the
database: every one is rated by the new version within seconds, no process restarted,
and the audit trail verifies.
"""

from __future__ import annotations

import time
from collections.abc import Iterator
from pathlib import Path

import pytest
import requests

from tests.support import services as sv
from tests.support.config_changes import SOE_75, soe_threshold_70
from tests.support.databases import fresh_postgres
from tests.support.onboarding import code
from workflow.engine.catalog import CHECK_SECONDS

ADMISSIONS = 8


class Client:
    """HTTP as the test users, each with their own token."""

    def __init__(self, base: str) -> None:
        self.base = base
        self.http = requests.Session()
        self.tokens = {u: sv.token(base, u) for u in ("sales1", "risk1", "manager1")}

    def call(self, method: str, user: str, path: str, **body: object) -> requests.Response:
        return self.http.request(
            method,
            self.base + path,
            json=body or None,
            headers={"Authorization": f"Bearer {self.tokens[user]}"},
            timeout=30,
        )

    def case(self, case_id: int) -> dict:
        r = self.call("GET", "risk1", f"/api/v1/workflows/{case_id}")
        assert r.status_code == 200, r.text
        return r.json()

    def admit(self, n: int) -> int:
        r = self.call(
            "POST",
            "sales1",
            "/api/v1/clients",
            name=f"中央企业示例有限公司 {n}",
            credit_code=code(n),
            **SOE_75,
        )
        assert r.status_code == 201, r.text
        r = self.call("POST", "sales1", f"/api/v1/clients/{r.json()['id']}/admission")
        assert r.status_code == 201, r.text
        return int(r.json()["id"])

    def rating(self, case_id: int, timeout: float = 60) -> str:
        """The admission's screening rating, once the worker has screened it."""
        found: dict[str, str] = {}

        def screened() -> bool:
            screening = self.case(case_id)["data"].get("screening")
            if screening:
                found["rating"] = screening["rating"]
            return bool(screening)

        sv.wait_for(screened, timeout, f"the worker to screen admission {case_id}", interval=0.2)
        return found["rating"]


@pytest.fixture
def production(tmp_path: Path) -> Iterator[tuple[dict[str, str], Client, list[sv.Process]]]:
    with fresh_postgres() as url, sv.private_redis(tmp_path) as (redis_url, _port, _redis):
        env = sv.environment(url, redis_url, tmp_path)
        env.pop("RISKLOOP_DEFINITIONS")  # the shipped workflows, config_change among them
        sv.riskloop(env, "db", "upgrade")
        sv.create_users(url)
        server, base = sv.gunicorn(env, tmp_path, workers=2, threads=2)
        others = [sv.worker(env, tmp_path, threads=2), sv.scheduler(env, tmp_path, interval=0.5)]
        processes = [server, *others]
        try:
            yield env, Client(base), processes
        finally:
            for proc in reversed(processes):
                assert proc.stop() == 0, proc.tail()


def test_an_approved_rule_change_reaches_every_process_without_a_restart(production):
    env, api, processes = production
    pids = [proc.pid for proc in processes]
    assert api.rating(api.admit(1)) != "S"  # 75 % state ownership: not S under the 80 % rule

    active = api.call("GET", "risk1", "/api/v1/config/rule_set").json()
    r = api.call(
        "POST",
        "risk1",
        "/api/v1/config/rule_set/drafts",
        content=soe_threshold_70(active["content"]),
        reason="central SOEs from 70 %",
    )
    assert r.status_code == 201, r.text
    change_id = int(r.json()["id"])
    sv.wait_for(
        lambda: api.case(change_id)["state"] == "awaiting_approval",
        60,
        "the worker to backtest the draft",
        interval=0.2,
    )
    change = api.case(change_id)
    assert change["data"]["backtest"]["hash"], change["data"]  # the worker's report, kept
    approve = {
        "expected_version": change["version"],
        "content_hash": change["data"]["content_hash"],
    }
    refused = api.call("POST", "risk1", f"/api/v1/workflows/{change_id}/actions/approve", **approve)
    assert refused.status_code == 403, refused.text  # the maker
    done = api.call("POST", "manager1", f"/api/v1/workflows/{change_id}/actions/approve", **approve)
    assert done.status_code == 200, done.text
    approved_at = time.monotonic()

    # Told nothing but the database: each process finds the version on its next check.
    time.sleep(CHECK_SECONDS + 0.5)
    cases = [api.admit(n) for n in range(2, 2 + ADMISSIONS)]  # spread over both web workers
    ratings = [api.rating(case_id) for case_id in cases]
    assert ratings == ["S"] * ADMISSIONS, ratings
    seconds = round(time.monotonic() - approved_at, 1)

    for proc in processes:
        assert proc.alive(), proc.tail()
    assert [proc.pid for proc in processes] == pids  # nobody restarted
    assert "audit trail verified" in sv.riskloop(env, "audit", "verify").stdout
    sv.report(
        "governed rule change",
        processes="gunicorn (2 workers), worker, scheduler",
        admissions_after_approval=ADMISSIONS,
        rated_by_new_version=ratings.count("S"),
        seconds_from_approval_to_last_rating=seconds,
        restarts=0,
        audit="verified",
    )
