"""Moving instances between generated definition versions never leaves a corrupt state
(hypothesis), and a crash mid-apply loses only the batch in flight, whole (SQLite and
PostgreSQL).

Given a random pair of versions (states kept, removed, made final or added; transitions,
SLAs, timers and required data at random), instances in random states with random data
and a random state map: after apply every instance is in a state of its definition
version, its pending timers belong to that state, blocked instances are untouched and the
audit trail verifies; after revert every instance is exactly as before (its version
counter aside) with its earlier timers pending again, and the trail still verifies.
"""

from __future__ import annotations

import itertools
from typing import Any

import pytest
import yaml
from hypothesis import HealthCheck, given, settings
from hypothesis import event as observe
from hypothesis import strategies as st
from sqlalchemy import event, select
from sqlalchemy.orm import Session

from workflow.audit.verification import verify_all
from workflow.engine import firing, migration, runtime
from workflow.engine.definitions import parse_definition
from workflow.errors import Conflict
from workflow.records.identity import Actor
from workflow.records.models import DefinitionMigration, Timer, WorkflowInstance

OFFICER = Actor("rob", frozenset({"risk_officer"}))
ADMIN = Actor("ada", frozenset({"admin"}))
KEYS = ("a", "b", "c")
_names = itertools.count(1)


@st.composite
def state_specs(draw: Any, names: list[str]) -> dict[str, dict[str, Any]]:
    specs = {}
    for name in names:
        spec: dict[str, Any] = {}
        if draw(st.booleans()):
            spec["sla"] = f"{draw(st.integers(1, 72))}h"
        # required data now and then (most instances should be able to move)
        required = (
            draw(st.lists(st.sampled_from(KEYS), unique=True, max_size=2))
            if draw(st.integers(0, 3)) == 0
            else []
        )
        if required:
            spec["requires"] = required
        specs[name] = spec
    return specs


@st.composite
def versions(draw: Any, name: str, version: int, names: list[str]) -> dict[str, Any]:
    """A valid definition over the open states ``names`` (in chain order) and ``end``."""
    states: dict[str, Any] = draw(state_specs(names))
    states["end"] = {"final": True}
    transitions: list[dict[str, Any]] = []
    chain = [*names, "end"]
    for here, there in itertools.pairwise(chain):
        transitions.append(
            {"trigger": "go", "source": here, "dest": there, "roles": ["risk_officer"]}
        )
    for k in range(draw(st.integers(0, 3))):
        transitions.append(
            {
                "trigger": f"jump{k}",
                "source": draw(st.sampled_from(names)),
                "dest": draw(st.sampled_from(chain)),
                "roles": ["risk_officer"],
            }
        )
    timers = []
    for state in names:
        if draw(st.booleans()):
            transitions.append(
                {"trigger": "remind", "source": state, "dest": state, "roles": ["system"]}
            )
            timers.append(
                {"state": state, "after": f"{draw(st.integers(1, 96))}h", "trigger": "remind"}
            )
    return {
        "name": name,
        "version": version,
        "initial": names[0],
        "states": states,
        "transitions": transitions,
        "timers": timers,
    }


@st.composite
def scenarios(draw: Any) -> dict[str, Any]:
    name = f"gen_{next(_names)}"
    old_states = [f"s{i}" for i in range(draw(st.integers(1, 5)))]
    # most states survive; some are removed
    kept = [s for s in old_states if draw(st.integers(0, 3)) > 0]
    added = [f"n{i}" for i in range(draw(st.integers(0 if kept else 1, 2)))]
    new_states = [s for s in old_states if s in kept] + added
    old = draw(versions(name, 1, old_states))
    new = draw(versions(name, 2, draw(st.permutations(new_states))))
    # a removed state may come back as a final one in the new version
    for state in draw(st.lists(st.sampled_from(old_states), unique=True, max_size=2)):
        if state not in new["states"]:
            new["states"][state] = {"final": True}
            new["transitions"].append(
                {
                    "trigger": f"to_{state}",
                    "source": new["initial"],
                    "dest": state,
                    "roles": ["risk_officer"],
                }
            )
    state_map = {
        old_state: draw(st.sampled_from(new_states))
        for old_state in draw(st.lists(st.sampled_from(old_states), unique=True, max_size=2))
    }
    instances = [
        (
            draw(st.integers(0, len(old_states) - 1)),
            draw(st.dictionaries(st.sampled_from(KEYS), st.sampled_from(["x", "x", "", None]))),
        )
        for _ in range(draw(st.integers(1, 6)))
    ]
    return {"name": name, "old": old, "new": new, "map": state_map, "instances": instances}


def publish(session: Session, doc: dict[str, Any]) -> None:
    catalog = runtime.of(session).catalog
    catalog.add(
        parse_definition(
            yaml.safe_dump(doc), f"{doc['name']}.yaml", catalog.registry, catalog.policy
        )
    )
    catalog.sync(session)
    session.commit()


def image(session: Session, name: str) -> dict[int, dict[str, Any]]:
    """Every instance of ``name``: what a migration changes, and its pending timers."""
    session.expire_all()
    found = {}
    for i in session.execute(
        select(WorkflowInstance).where(WorkflowInstance.definition == name)
    ).scalars():
        timers = session.execute(
            select(Timer.id, Timer.state, Timer.trigger, Timer.due_at).where(
                Timer.instance_id == i.id, Timer.status == "pending"
            )
        ).all()
        found[i.id] = {
            "definition_version": i.definition_version,
            "state": i.state,
            "version": i.version,
            "is_open": i.is_open,
            "sla_due_at": i.sla_due_at,
            "state_entered_at": i.state_entered_at,
            "breached": i.breached,
            "data": i.data,
            "timers": sorted(tuple(t) for t in timers),
        }
    return found


def without_version(found: dict[str, Any]) -> dict[str, Any]:
    return {k: v for k, v in found.items() if k != "version"}


def test_generated_version_pairs_never_leave_a_corrupt_instance(session: Session) -> None:
    @settings(
        max_examples=25,
        deadline=None,
        suppress_health_check=[HealthCheck.too_slow, HealthCheck.function_scoped_fixture],
    )
    @given(scenario=scenarios())
    def check(scenario: dict[str, Any]) -> None:
        name = scenario["name"]
        publish(session, scenario["old"])
        for steps, data in scenario["instances"]:
            instance = firing.start(session, name, OFFICER, data=data)
            for _ in range(steps):
                firing.fire(session, instance.id, "go", OFFICER)
        session.commit()
        publish(session, scenario["new"])
        catalog = runtime.of(session).catalog
        before = image(session, name)

        report = migration.apply(session, name, 2, ADMIN, scenario["map"], batch_size=2)

        after = image(session, name)
        plans = {p.instance_id: p for p in report.instances}
        assert set(plans) == {i for i, b in before.items() if b["is_open"]}
        for instance_id, now in after.items():
            definition = catalog.get(name, now["definition_version"])
            assert now["state"] in definition.states
            assert now["is_open"] == (not definition.states[now["state"]].final)
            for _id, state, trigger, _due in now["timers"]:
                assert state == now["state"]
                assert definition.candidates(trigger, state)
            plan = plans.get(instance_id)
            observe(f"{plan.status} {plan.reason or ''}" if plan else "closed")
            if plan is None or plan.status == "blocked":
                assert now == before[instance_id]
            else:
                assert (now["definition_version"], now["state"]) == (2, plan.to_state)
                missing = [
                    k for k in definition.states[plan.to_state].requires if not now["data"].get(k)
                ]
                assert not missing
        assert verify_all(session).ok

        migration.revert(session, report.migration_id or 0, ADMIN, batch_size=3)

        restored = image(session, name)
        for instance_id, then in before.items():
            moved = plans.get(instance_id) and plans[instance_id].status == "migratable"
            assert without_version(restored[instance_id]) == without_version(then)
            assert restored[instance_id]["version"] == then["version"] + (2 if moved else 0)
        assert verify_all(session).ok

    check()


def test_a_crash_mid_apply_loses_only_the_batch_in_flight_and_apply_again_finishes(
    session: Session,
) -> None:
    name = f"gen_{next(_names)}"
    old = {
        "name": name,
        "version": 1,
        "initial": "open",
        "states": {"open": {"sla": "2h"}, "end": {"final": True}},
        "transitions": [
            {"trigger": "go", "source": "open", "dest": "end", "roles": ["risk_officer"]},
            {"trigger": "remind", "source": "open", "dest": "open", "roles": ["system"]},
        ],
        "timers": [{"state": "open", "after": "2h", "trigger": "remind"}],
    }
    publish(session, old)
    for _ in range(7):
        firing.start(session, name, OFFICER)
    session.commit()
    publish(
        session, {**old, "version": 2, "states": {"open": {"sla": "8h"}, "end": {"final": True}}}
    )
    before = image(session, name)

    inserts = itertools.count(1)

    # each batch writes its audit records in one statement: the second one dies midway
    def crash_writing_the_second_batch(conn, cursor, statement, params, context, many):  # noqa: ANN001
        if (
            statement.lstrip().upper().startswith("INSERT INTO AUDIT_RECORDS")
            and next(inserts) == 2
        ):
            raise RuntimeError("the process died")

    engine = session.get_bind()
    event.listen(engine, "before_cursor_execute", crash_writing_the_second_batch)
    try:
        with pytest.raises(RuntimeError, match="the process died"):
            migration.apply(session, name, 2, ADMIN, batch_size=2)
    finally:
        event.remove(engine, "before_cursor_execute", crash_writing_the_second_batch)

    halfway = image(session, name)
    moved = sorted(i for i, found in halfway.items() if found["definition_version"] == 2)
    assert moved == sorted(before)[:2]  # the first batch, whole; nothing of the second
    for instance_id in sorted(before)[2:]:
        assert halfway[instance_id] == before[instance_id]
    record = session.execute(select(DefinitionMigration)).scalars().all()[-1]
    assert (record.status, record.migrated) == ("running", 2)
    assert verify_all(session).ok
    # while it is unfinished, no other migration of the definition starts
    with pytest.raises(Conflict, match="unfinished"):
        migration.apply(session, name, 2, ADMIN, {"open": "open"})
    session.rollback()

    report = migration.apply(session, name, 2, ADMIN, batch_size=2)

    assert report.migration_id == record.id and report.status == "applied"
    assert {i["definition_version"] for i in image(session, name).values()} == {2}
    session.refresh(record)
    assert record.migrated == 7
    assert verify_all(session).ok
    migration.revert(session, record.id, ADMIN)
    assert {i: without_version(found) for i, found in image(session, name).items()} == {
        i: without_version(found) for i, found in before.items()
    }
