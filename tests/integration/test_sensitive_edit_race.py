"""Two approvers racing on PostgreSQL: exactly one decides, the other gets a clean 409."""

from __future__ import annotations

import threading
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest

from tests.support.databases import fresh_database
from tests.support.runtime import engine_runtime
from tests.support.sensitive_edit import (
    LEGAL,
    MANAGER,
    RISK,
    RISK2,
    SALES,
    add_to_catalog,
    make_client,
)
from workflow.audit.verification import verify_all
from workflow.engine import firing as engine
from workflow.engine import runtime
from workflow.errors import Conflict, IllegalState, VersionConflict
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.clients.model import Client
from workflow.risk.sensitive_edit import request_sensitive_edit


@pytest.fixture
def pg(tmp_path: Path) -> Iterator[runtime.Runtime]:
    with fresh_database("postgresql", tmp_path, with_schema=True) as url:
        for rt in engine_runtime(url):
            yield add_to_catalog(rt)


def race(
    rt: runtime.Runtime, case: int, actors: tuple[Actor, Actor], version: int | None
) -> list[str]:
    """Both actors approve at the same moment from their own session and thread."""
    results: list[str] = []
    barrier = threading.Barrier(2)

    def approve(actor: Actor) -> None:
        factory: Callable = rt.session_factory  # type: ignore[assignment]
        with factory() as s:
            barrier.wait()
            try:
                engine.fire(s, case, "approve", actor, expected_version=version)
                s.commit()
                results.append("ok")
            except Conflict as exc:
                s.rollback()
                results.append(type(exc).__name__)

    threads = [threading.Thread(target=approve, args=(a,)) for a in actors]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    return sorted(results)


def test_two_second_approvers_at_the_same_version_apply_the_change_once(pg):
    with pg.session_factory() as s:
        client = make_client(s)
        inst = request_sensitive_edit(s, client.id, {"credit_limit": 750000}, "renewal", SALES)
        s.commit()
        engine.fire(s, inst.id, "approve", RISK)
        s.commit()
        case, version, client_id = inst.id, inst.version, client.id
    assert race(pg, case, (LEGAL, MANAGER), version) == ["VersionConflict", "ok"]
    with pg.session_factory() as s:
        inst = s.get(WorkflowInstance, case)
        assert (inst.state, inst.version) == ("applied", version + 1)
        assert len(inst.data["approvals"]) == 2
        assert s.get(Client, client_id).version == 2  # written once
        assert verify_all(s).ok


def test_without_expected_versions_the_late_second_approver_finds_it_applied(pg):
    with pg.session_factory() as s:
        inst = request_sensitive_edit(s, make_client(s).id, {"rating": "A"}, "upgrade", SALES)
        s.commit()
        engine.fire(s, inst.id, "approve", RISK)
        s.commit()
        case = inst.id
    assert race(pg, case, (RISK2, LEGAL), None) == ["IllegalState", "ok"]
    assert issubclass(IllegalState, Conflict) and issubclass(VersionConflict, Conflict)


def test_two_first_approvers_at_the_same_version_give_one_first_approval(pg):
    with pg.session_factory() as s:
        inst = request_sensitive_edit(s, make_client(s).id, {"rating": "A"}, "upgrade", SALES)
        s.commit()
        case, version = inst.id, inst.version
    assert race(pg, case, (RISK, RISK2), version) == ["VersionConflict", "ok"]
    with pg.session_factory() as s:
        inst = s.get(WorkflowInstance, case)
        assert inst.state == "first_approved" and len(inst.data["approvals"]) == 1
