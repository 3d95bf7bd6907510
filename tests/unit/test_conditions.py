"""CEL conditions on their own: compiled once, judged on plain data, never ``eval``."""

from __future__ import annotations

import pytest

from workflow.engine.expressions import Expression
from workflow.errors import Unprocessable


def test_a_condition_holds_only_when_it_evaluates_to_true():
    limit = Expression("payload.amount <= 1000000")

    assert limit.holds({"payload": {"amount": 5}})
    assert not limit.holds({"payload": {"amount": 1000001}})


def test_missing_data_or_a_wrong_type_means_the_condition_does_not_hold():
    limit = Expression("payload.amount <= 1000000")

    assert not limit.holds({"payload": {}})
    assert not limit.holds({"payload": {"amount": "a lot"}})
    assert not limit.holds({})


def test_a_condition_that_is_not_a_boolean_does_not_hold():
    assert not Expression("data.rating").holds({"data": {"rating": "A"}})


def test_evaluating_on_missing_data_is_refused_naming_the_condition():
    with pytest.raises(Unprocessable, match="data.amount > 10"):
        Expression("data.amount > 10").evaluate({"data": {}})


def test_conditions_combine_data_actor_and_payload():
    rule = Expression('data.level == "red" && "manager" in actor.roles && payload.ok')
    given = {"data": {"level": "red"}, "actor": {"roles": ["manager"]}, "payload": {"ok": True}}

    assert rule.holds(given)
    assert not rule.holds({**given, "actor": {"roles": ["sales"]}})


def test_only_conditions_that_read_the_payload_wait_for_the_action():
    assert Expression("payload.amount > 0").reads_payload
    assert not Expression("data.amount > 0").reads_payload


def test_python_is_never_evaluated(tmp_path):
    marker = tmp_path / "ran"
    attempt = Expression(f"__import__('os').system('touch {marker}') == 0")

    assert not attempt.holds({})
    with pytest.raises(Unprocessable):
        attempt.evaluate({})
    assert not marker.exists()


def test_a_condition_that_does_not_parse_is_refused():
    with pytest.raises(ValueError):
        Expression("data.amount >")
