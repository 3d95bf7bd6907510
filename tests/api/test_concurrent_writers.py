"""Several clients approving at once through the embedded app (in-process worker and
scheduler running beside the requests): every approve succeeds and the audit verifies.
On SQLite the writers of the process take turns in order (workflow.platform.db)."""

from __future__ import annotations

import os
import threading

from flask import Flask

from api.extensions import db
from api.worker import EmbeddedServices
from tests.support.app import Api
from tests.support.cases import start_case, state_of
from workflow.platform.db import WriterQueue, is_sqlite

CLIENTS = 6


def test_clients_approving_at_once_all_succeed_and_the_audit_verifies(live: Flask) -> None:
    api = Api(live.test_client())
    cases = [start_case(live) for _ in range(CLIENTS)]
    token = api.token("risk1")
    start = threading.Barrier(CLIENTS)
    answers: dict[int, tuple[int, object]] = {}

    def approve(case: int) -> None:
        client = live.test_client()
        start.wait()
        r = client.post(
            f"/api/v1/workflows/{case}/actions/approve",
            json={"amount": 5000, "expected_version": 2},
            headers={"Authorization": f"Bearer {token}"},
        )
        answers[case] = (r.status_code, r.get_json())

    services = EmbeddedServices(live, threads=2, interval=0.2)
    services.start()
    try:
        threads = [threading.Thread(target=approve, args=(case,)) for case in cases]
        for thread in threads:
            thread.start()
        for thread in threads:
            thread.join(timeout=60)  # a hang guard, not a timing assertion
        assert not any(thread.is_alive() for thread in threads), "an approve hung"
    finally:
        services.stop()
    assert {case: status for case, (status, _) in answers.items()} == dict.fromkeys(cases, 200), (
        answers
    )
    assert [state_of(live, case) for case in cases] == [("approved", 3)] * CLIENTS
    report = api.get("auditor1", "/api/v1/audit/verify").get_json()
    assert report["ok"] is True, report
    with live.app_context():
        if is_sqlite(db.engine):
            path = db.engine.url.database
            assert path is not None
            assert WriterQueue.of(os.path.realpath(path)).holder is None  # every turn given back
