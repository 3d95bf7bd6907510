"""The engine's own pieces without a database: the role policy, registries joined
explicitly, and a definition checked against the policy it is given."""

from __future__ import annotations

import pytest
import yaml

from workflow.engine import builtins
from workflow.engine.definitions import parse_definition
from workflow.engine.policy import RolePolicy
from workflow.engine.registry import Registry
from workflow.errors import DefinitionError
from workflow.records.identity import Actor

LEAVE = {
    "name": "leave",
    "version": 1,
    "initial": "asked",
    "states": {"asked": {}, "granted": {"final": True}},
    "transitions": [
        {
            "trigger": "grant",
            "source": "asked",
            "dest": "granted",
            "roles": ["supervisor"],
            "guards": ["not_initiator"],
        }
    ],
}


def test_a_policy_always_knows_the_system_role_and_tells_who_sees_everything():
    policy = RolePolicy(
        roles=frozenset({"employee", "supervisor"}), see_all=frozenset({"supervisor"})
    )
    assert policy.roles == {"employee", "supervisor", "system"}
    assert policy.user_roles == {"employee", "supervisor"}
    assert policy.sees_everything(Actor("bob", frozenset({"supervisor"})))
    assert policy.sees_everything(Actor.system("timer"))
    assert not policy.sees_everything(Actor("alice", frozenset({"employee"})))


def test_a_policy_naming_roles_it_does_not_define_is_refused():
    with pytest.raises(ValueError, match="auditor"):
        RolePolicy(roles=frozenset({"employee"}), non_acting=frozenset({"auditor"}))


def test_a_definition_is_checked_against_the_policy_it_is_given():
    leave = yaml.safe_dump(LEAVE)
    policy = RolePolicy(roles=frozenset({"employee", "supervisor"}))
    assert parse_definition(leave, "leave.yaml", builtins.registry, policy).name == "leave"
    other = RolePolicy(roles=frozenset({"sales", "manager"}))
    with pytest.raises(
        DefinitionError, match="unknown role 'supervisor'; known: manager, sales, system"
    ):
        parse_definition(leave, "leave.yaml", builtins.registry, other)


def test_a_non_acting_role_of_the_policy_may_not_be_named_in_a_transition():
    doc = {**LEAVE, "transitions": [{**LEAVE["transitions"][0], "roles": ["reader"]}]}
    policy = RolePolicy(roles=frozenset({"reader", "supervisor"}), non_acting=frozenset({"reader"}))
    with pytest.raises(DefinitionError, match="'reader' may never act on a workflow"):
        parse_definition(yaml.safe_dump(doc), "leave.yaml", builtins.registry, policy)


def test_registries_are_joined_explicitly_and_a_name_registered_twice_is_refused():
    mine, theirs = Registry(), Registry()

    @mine.guard("weekday_only")
    def weekday_only(ctx: object) -> None:
        return None

    @theirs.guard("weekday_only")
    def another(ctx: object) -> None:
        return None

    @mine.channel
    def pager(ctx: object, recipients: list[str], title: str) -> None:
        return None

    joined = Registry.compose(builtins.registry, mine)
    assert joined.guards["weekday_only"] is weekday_only and "not_initiator" in joined.guards
    assert joined.channels == [pager]
    assert "weekday_only" not in builtins.registry.guards  # composing copies, never mutates
    with pytest.raises(ValueError, match="'weekday_only' is registered twice"):
        Registry.compose(mine, theirs)


def test_a_guard_unknown_to_the_registry_names_the_ones_it_knows():
    doc = {**LEAVE, "transitions": [{**LEAVE["transitions"][0], "guards": ["weekday_only"]}]}
    policy = RolePolicy(roles=frozenset({"supervisor"}))
    with pytest.raises(
        DefinitionError, match="unknown guard 'weekday_only'; known: .*not_initiator"
    ):
        parse_definition(yaml.safe_dump(doc), "leave.yaml", builtins.registry, policy)


def test_the_engine_object_travels_with_the_sessions_of_the_factory_it_was_bound_to():
    from sqlalchemy.orm import Session, sessionmaker

    from workflow.engine import runtime
    from workflow.engine.catalog import Catalog

    rt = runtime.Runtime(
        catalog=Catalog(builtins.registry, RolePolicy(roles=frozenset())),
        settings={"RISKLOOP_TIMEZONE": "UTC"},
    )
    other = runtime.Runtime(catalog=rt.catalog)
    factory = rt.bind(sessionmaker())
    other.bind(sessionmaker())
    with factory() as session:
        assert (
            runtime.of(session) is rt and runtime.of(session).setting("RISKLOOP_TIMEZONE") == "UTC"
        )
    with Session() as unbound, pytest.raises(RuntimeError, match=r"Runtime\.bind"):
        runtime.of(unbound)
