"""Guards and the choice of a transition, on real objects and no database: a compiled
definition, an instance that was never stored and a session bound to nothing."""

from __future__ import annotations

from datetime import datetime
from typing import Any

import pytest
from sqlalchemy.orm import Session

from api import composition
from workflow.engine.builtins.guards import TRIGGER_ACTORS
from workflow.engine.catalog import Catalog
from workflow.engine.context import FireContext
from workflow.engine.definitions import Definition, parse_definition
from workflow.engine.firing import available_actions
from workflow.engine.runtime import SESSION_KEY, Runtime
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.policy import POLICY

ROUTING = """
name: unit_routing
version: 1
initial: submitted
states:
  submitted: {}
  approved: {final: true}
  escalated: {}
  rejected: {final: true}
transitions:
  - trigger: decide
    source: submitted
    dest: approved
    roles: [risk_officer]
    guards: [not_initiator]
    condition: "data.amount <= 100000"
  - trigger: decide
    source: submitted
    dest: escalated
    roles: [risk_officer]
    condition: "data.amount > 100000"
  - trigger: settle
    source: submitted
    dest: approved
    roles: [risk_officer]
    condition: "payload.amount <= data.amount"
  - trigger: close
    source: escalated
    dest: rejected
    roles: [manager]
    guards: [{not_actor_of: {triggers: [decide]}}]
"""

SALES = Actor("sales1", frozenset({"sales"}))
RISK1 = Actor("risk1", frozenset({"risk_officer"}))
MANAGER = Actor("manager1", frozenset({"manager"}))
AUDITING_MANAGER = Actor("boss", frozenset({"manager", "auditor"}))


def bound(catalog: Catalog) -> Session:
    """A session bound to no database that carries an engine object of ``catalog``."""
    return Session(info={SESSION_KEY: Runtime(catalog=catalog)})


@pytest.fixture(scope="module")
def catalog() -> Catalog:
    catalog = Catalog(composition.registry(), POLICY)
    catalog.add(parse_definition(ROUTING, "unit_routing.yaml", catalog.registry, catalog.policy))
    return catalog


@pytest.fixture(scope="module")
def routing(catalog: Catalog) -> Definition:
    return catalog.get("unit_routing", 1)


def case(state: str = "submitted", created_by: str = "sales1", **data: Any) -> WorkflowInstance:
    return WorkflowInstance(
        definition="unit_routing",
        definition_version=1,
        state=state,
        version=1,
        data=data,
        created_by=created_by,
        assignees=[],
    )


def firing(
    routing: Definition,
    instance: WorkflowInstance,
    actor: Actor,
    trigger: str,
    session: Session | None = None,
) -> FireContext:
    transition = routing.candidates(trigger, instance.state)[0]
    return FireContext(
        session=session or Session(),
        instance=instance,
        definition=routing,
        transition=transition,
        actor=actor,
        payload={},
        comment=None,
        from_state=instance.state,
        now=datetime(2026, 1, 5, 2, 0),
    )


def guard(catalog: Catalog, name: str, ctx: FireContext, **args: Any) -> Any:
    return catalog.registry.guards[name](ctx, **args)


# Selection: which transition of a trigger applies, and which actions are offered.


def test_the_transitions_of_a_trigger_are_tried_in_the_order_written(routing):
    given = {"data": {"amount": 250_000}}

    holding = [
        t.dest for t in routing.candidates("decide", "submitted") if t.condition.holds(given)
    ]

    assert [t.dest for t in routing.candidates("decide", "submitted")] == ["approved", "escalated"]
    assert holding == ["escalated"]


def test_an_action_is_offered_when_one_of_its_conditions_holds_on_the_case(catalog, routing):
    small, large = case(amount=50_000), case(amount=250_000)

    assert "decide" in available_actions(bound(catalog), small, RISK1, routing)
    assert "decide" in available_actions(bound(catalog), large, RISK1, routing)


def test_a_condition_on_the_input_is_judged_when_the_action_comes_not_before(catalog, routing):
    assert "settle" in available_actions(bound(catalog), case(amount=1), RISK1, routing)


def test_the_guard_of_the_transition_whose_condition_holds_decides_the_offer(catalog, routing):
    # risk1 started this small case: the approving transition's maker-checker guard refuses,
    # and the escalating one does not apply to a small amount.
    own_small = case(created_by="risk1", amount=50_000)
    own_large = case(created_by="risk1", amount=250_000)

    assert "decide" not in available_actions(bound(catalog), own_small, RISK1, routing)
    assert "decide" in available_actions(bound(catalog), own_large, RISK1, routing)


def test_nothing_is_offered_without_a_role_or_in_a_final_state(catalog, routing):
    assert available_actions(bound(catalog), case(amount=1), SALES, routing) == []
    assert available_actions(bound(catalog), case("approved"), RISK1, routing) == []


# Guards: each returns the reason it refuses, or None.


def test_the_initiator_never_decides_their_own_case(catalog, routing):
    own = firing(routing, case(created_by="risk1"), RISK1, "decide")
    other = firing(routing, case(created_by="sales1"), RISK1, "decide")

    assert "segregation of duties" in str(guard(catalog, "not_initiator", own))
    assert guard(catalog, "not_initiator", other) is None


def test_the_second_approver_is_not_the_first(catalog, routing):
    session = Session()  # bound to nothing: who acted comes from the batch look-up below
    session.info[TRIGGER_ACTORS] = lambda instance_id, triggers: {"manager1"}
    ctx = firing(routing, case("escalated"), MANAGER, "close", session)
    by_another = firing(
        routing, case("escalated"), Actor("manager2", frozenset({"manager"})), "close", session
    )

    assert "decide" in str(guard(catalog, "not_actor_of", ctx, triggers=["decide"]))
    assert guard(catalog, "not_actor_of", by_another, triggers=["decide"]) is None


def test_a_forbidden_role_refuses_whatever_other_roles_are_held(catalog, routing):
    ctx = firing(routing, case("escalated"), AUDITING_MANAGER, "close")

    assert "auditor" in str(guard(catalog, "no_roles", ctx, roles=["auditor", "admin"]))
    assert (
        guard(
            catalog,
            "no_roles",
            firing(routing, case("escalated"), MANAGER, "close"),
            roles=["auditor", "admin"],
        )
        is None
    )


def test_only_the_initiator_may_withdraw_and_the_named_user_may_not_act(catalog, routing):
    mine = firing(routing, case(created_by="sales1"), SALES, "decide")
    theirs = firing(routing, case(created_by="sales2"), SALES, "decide")
    analysed = firing(routing, case(analyst="risk1"), RISK1, "decide")

    assert guard(catalog, "initiator_only", mine) is None
    assert "sales2" in str(guard(catalog, "initiator_only", theirs))
    assert "analyst" in str(guard(catalog, "not_data_user", analysed, key="analyst"))


def test_an_assigned_case_is_for_its_assignees_and_the_exempt_roles(catalog, routing):
    assigned = case()
    assigned.assignees = ["risk2"]

    refused = guard(catalog, "assignee_only", firing(routing, assigned, RISK1, "decide"))
    exempt = guard(
        catalog,
        "assignee_only",
        firing(routing, assigned, RISK1, "decide"),
        roles_exempt=["risk_officer"],
    )
    assignee = guard(
        catalog,
        "assignee_only",
        firing(routing, assigned, Actor("risk2", frozenset({"risk_officer"})), "decide"),
    )

    assert refused is not None and exempt is None and assignee is None
