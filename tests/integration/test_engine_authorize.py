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
