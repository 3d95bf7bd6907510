"""engine.authorize(): whether an actor may fire a trigger now, decided before the action's
input is read, with fire()'s own checks in fire()'s order."""

from __future__ import annotations

import pytest
from sqlalchemy.orm import Session

from workflow.engine import firing as engine
from workflow.errors import Forbidden, IllegalState, NotFound, UnknownAction, VersionConflict
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance

SALES = Actor("alice", frozenset({"sales"}))
OTHER_SALES = Actor("bert", frozenset({"sales"}))
RISK = Actor("rob", frozenset({"risk_officer"}))
AUDITOR = Actor("audrey", frozenset({"auditor"}))


def pending(session: Session) -> WorkflowInstance:
    case = engine.start(session, "test_approval", SALES)
    session.commit()
    engine.fire(session, case.id, "submit", SALES)
    session.commit()
    return case


def test_it_refuses_as_fire_would_without_reading_any_input(session: Session, engine_rt) -> None:  # noqa: ANN001
    case = pending(session)
    refusals = [
        (OTHER_SALES, "approve", {}, NotFound),  # not theirs to see
        (RISK, "no_such_action", {}, UnknownAction),
        (RISK, "approve", {"expected_version": 1}, VersionConflict),
        (RISK, "submit", {}, IllegalState),  # not from pending
        (AUDITOR, "approve", {}, Forbidden),  # no role for it
        (SALES, "reject", {}, Forbidden),
    ]
    for actor, trigger, kwargs, error in refusals:
        with pytest.raises(error):
            engine.authorize(session, case.id, trigger, actor, **kwargs)
    # allowed: a risk officer may reject (a guard passes) and approve (whose condition reads
    # the input: fire() judges it with the input)
    engine.authorize(session, case.id, "reject", RISK)
    engine.authorize(session, case.id, "approve", RISK, expected_version=2)
    assert session.get(WorkflowInstance, case.id).version == 2  # nothing moved


def test_a_refusal_gives_way_to_an_earlier_request_with_the_same_idempotency_key(
    session: Session, engine_rt
) -> None:  # noqa: ANN001
    case = pending(session)
    engine.fire(session, case.id, "approve", RISK, {"amount": 5}, idempotency_key="k-1")
    session.commit()
    with pytest.raises(IllegalState):  # the case is approved now
        engine.authorize(session, case.id, "approve", RISK)
    engine.authorize(session, case.id, "approve", RISK, idempotency_key="k-1")  # fire() replays it
    assert engine.fire(
        session, case.id, "approve", RISK, {"amount": 5}, idempotency_key="k-1"
    ).replayed


def test_fire_without_input_takes_authorize_s_decision_and_rechecks_otherwise(
    session: Session, engine_rt, monkeypatch: pytest.MonkeyPatch
) -> None:  # noqa: ANN001
    """Under authorize()'s lock (PostgreSQL's FOR UPDATE; SQLite holds none, and fire()
    reads and checks again), a firing with no input and no comment was checked with
    exactly what authorize() saw: its checks are not made twice. A comment, an input or
    another expected version is checked again, by fire()'s own checks."""
    held_lock = session.get_bind().dialect.name == "postgresql"
    checks: list[str] = []
    admit = engine._admit
    monkeypatch.setattr(engine, "_admit", lambda *a, **k: checks.append(a[3]) or admit(*a, **k))
    first, second, third = pending(session), pending(session), pending(session)
    checks.clear()

    held = engine.authorize(session, first.id, "withdraw", SALES, expected_version=2)
    result = engine.fire(session, first.id, "withdraw", SALES, expected_version=2, held=held)
    session.commit()
    assert (result.to_state, checks) == ("withdrawn", ["withdraw"] * (1 if held_lock else 2))

    checks.clear()
    held = engine.authorize(session, second.id, "withdraw", SALES)
    engine.fire(session, second.id, "withdraw", SALES, comment="no longer needed", held=held)
    session.commit()
    assert checks == ["withdraw", "withdraw"]  # a comment: checked again

    checks.clear()
    held = engine.authorize(session, third.id, "withdraw", SALES, expected_version=2)
    with pytest.raises(VersionConflict):  # another expected version: fire()'s own check
        engine.fire(session, third.id, "withdraw", SALES, expected_version=1, held=held)
    session.rollback()
    assert checks == ["withdraw", "withdraw"]
