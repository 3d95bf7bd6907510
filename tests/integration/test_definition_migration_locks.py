"""On PostgreSQL a migration batch skips a case another transaction holds (as a firing does)
instead of waiting for it; applying again moves it."""

from __future__ import annotations

from collections.abc import Iterator

import pytest
import yaml
from sqlalchemy import select

from tests.support.runtime import engine_runtime
from workflow.engine import firing, migration, runtime
from workflow.engine.definitions import parse_definition
from workflow.errors import Forbidden
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance

OFFICER = Actor("rob", frozenset({"risk_officer"}))
ADMIN = Actor("ada", frozenset({"admin"}))
FLOW = {
    "name": "locked_flow",
    "initial": "open",
    "states": {"open": {"sla": "1h"}, "end": {"final": True}},
    "transitions": [{"trigger": "go", "source": "open", "dest": "end", "roles": ["risk_officer"]}],
}


@pytest.fixture
def rt(pg_url: str) -> Iterator[runtime.Runtime]:
    yield from engine_runtime(pg_url)


def publish(rt: runtime.Runtime, version: int) -> None:
    text = yaml.safe_dump({**FLOW, "version": version})
    rt.catalog.add(parse_definition(text, "locked_flow.yaml", rt.registry, rt.policy))


def test_a_case_held_by_another_transaction_is_left_for_the_next_apply(
    rt: runtime.Runtime,
) -> None:
    publish(rt, 1)
    with rt.session() as s:
        ids = [firing.start(s, "locked_flow", OFFICER).id for _ in range(3)]
        s.commit()
    publish(rt, 2)
    with rt.session() as holder, rt.session() as s:
        # someone is firing on the second case right now
        holder.execute(
            select(WorkflowInstance.id).where(WorkflowInstance.id == ids[1]).with_for_update()
        ).all()

        report = migration.apply(s, "locked_flow", 2, ADMIN)

        assert sorted(p.instance_id for p in report.instances) == [ids[0], ids[2]]
        assert report.remaining == 1
        holder.rollback()
        again = migration.apply(s, "locked_flow", 2, ADMIN)
        assert [p.instance_id for p in again.instances] == [ids[1]] and again.remaining == 0
        versions = s.execute(select(WorkflowInstance.definition_version)).scalars().all()
        assert set(versions) == {2}
        # the service checks the role itself, whoever calls it
        with pytest.raises(Forbidden):
            migration.revert(s, again.migration_id or 0, OFFICER)
