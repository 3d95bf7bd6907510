"""A draft that does not validate is refused with every error (issue 18): a workflow
definition with three independent mistakes gets three problems, and every problem has its
file, key, English message, code and params."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import func, select

from api.extensions import db
from tests.support.app import Api
from tests.support.config_changes import active_content, draft
from workflow.records.models import WorkflowInstance

DD = "definition:due_diligence"


def _broken(content: str, old: str, new: str) -> str:
    assert content.count(old) == 1, old
    return content.replace(old, new)


def _changes(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(
            select(func.count())
            .select_from(WorkflowInstance)
            .where(WorkflowInstance.definition == "config_change")
        )


def test_a_definition_draft_with_three_mistakes_is_refused_with_three_problems(
    app: Flask, api: Api
) -> None:
    content = active_content(api, DD)["content"]
    broken = _broken(content, "sla: 10d", "sla: soon")
    broken = _broken(
        broken,
        "source: opened\n    dest: collecting",
        "source: opened\n    dest: colecting",
    )
    broken = _broken(
        broken,
        "dest: under_review\n    roles: [risk_officer, manager]",
        "dest: under_review\n    roles: [risk_officer, wizard]",
    )
    r = draft(api, DD, broken, user="admin")
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    problems = body["errors"]["content"]
    assert len(problems) == 3, problems
    assert all(set(p) == {"file", "key", "message", "code", "params"} for p in problems)
    assert all(p["file"].startswith("definition:due_diligence draft") for p in problems)
    found = {p["key"]: p for p in problems}
    assert set(found) == {
        "states.collecting.sla",
        "transitions[1].dest",
        "transitions[2].roles",
    }, problems
    assert found["states.collecting.sla"]["code"] == "definition.duration"
    assert found["states.collecting.sla"]["params"]["value"] == "soon"
    dest = found["transitions[1].dest"]
    assert dest["code"] == "definition.unknown_state"
    assert dest["params"]["state"] == "colecting" and "collecting" in dest["params"]["states"]
    assert "unknown state 'colecting'" in dest["message"]
    role = found["transitions[2].roles"]
    assert role["code"] == "definition.unknown_role" and role["params"]["role"] == "wizard"
    assert "3 problem(s)" in body["detail"]
    assert _changes(app) == 0


def test_a_rule_set_problem_carries_the_values_it_names(app: Flask, api: Api) -> None:
    content = active_content(api)["content"]
    broken = _broken(content, "- {rating: A, min: 85}", "- {rating: A, min: 185}")
    broken = _broken(broken, "    D: 0.0\n  cap:", "    D: -0.5\n  cap:")
    r = draft(api, "rule_set", broken)
    assert r.status_code == 422, r.get_json()
    found = {p["key"]: p for p in r.get_json()["errors"]["content"]}
    band = found["scorecard.bands[0].min"]
    assert band["code"] == "rules.range"
    assert band["params"] == {"value": "185", "min": "0", "max": "100"}
    assert "must be at least 0 and at most 100, got 185" in band["message"]
    multiplier = found["credit_limit.multipliers.D"]
    assert multiplier["code"] == "rules.at_least"
    assert multiplier["params"] == {"value": "-0.5", "min": "0", "max": None}
    assert _changes(app) == 0


def test_routing_and_checklist_problems_have_codes(api: Api) -> None:
    r = draft(
        api,
        "alert_routing",
        "sla: {red: {respond: soon}}\nrouting: {roles: [janitor]}\ndigest_at: 25:00\n",
    )
    assert r.status_code == 422, r.get_json()
    found = {p["key"]: p for p in r.get_json()["errors"]["content"]}
    assert found["sla.red.respond"]["code"] == "config.duration"
    assert found["sla.red.respond"]["params"] == {"value": "soon"}
    assert found["routing.roles[0]"]["code"] == "config.unknown_name"
    assert found["routing.roles[0]"]["params"]["value"] == "janitor"
    assert found["digest_at"]["code"] == "config.digest_at"
    r = draft(api, "dd_checklist", "checklist: {Basic: {zh-CN: 基本信息}}\n")
    assert r.status_code == 422, r.get_json()
    codes = {p["code"] for p in r.get_json()["errors"]["content"]}
    assert codes == {"config.item_key", "config.item_labels"}
