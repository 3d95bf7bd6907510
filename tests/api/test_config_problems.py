"""A draft that does not validate is refused with every error (issue 18): a workflow
definition with three independent mistakes gets three problems, and every problem has its
file, key, English message, code and params."""

from __future__ import annotations

import yaml
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


def _refused(api: Api, kind: str, content: str) -> dict[str, dict]:
    r = draft(api, kind, content)
    assert r.status_code == 422, r.get_json()
    body = r.get_json()
    problems = body["errors"]["content"]
    assert all(set(p) == {"file", "key", "message", "code", "params"} for p in problems)
    assert f"{len(problems)} problem(s)" in body["detail"]
    found = {p["key"]: p for p in problems}
    assert len(found) == len(problems), problems
    return found


def test_a_rule_set_draft_with_three_mistakes_in_different_rules_gets_three(
    app: Flask, api: Api
) -> None:
    content = active_content(api)["content"]
    broken = _broken(content, 'when: "facts.dishonest_debtor"', 'when: "facts.dishonest_debter"')
    broken = _broken(broken, "rating: S\n", "rating: SS\n")
    broken = _broken(broken, "- {rating: B, min: 70}", "- {rating: B, min: 170}")
    found = _refused(api, "rule_set", broken)
    assert {k: p["code"] for k, p in found.items()} == {
        "rating_rules[1].when": "rules.expression_unknown_name",
        "rating_rules[2].rating": "rules.rating",
        "scorecard.bands[1].min": "rules.range",
    }
    assert found["rating_rules[2].rating"]["params"]["value"] == "SS"
    assert _changes(app) == 0


def test_a_monitoring_draft_with_three_mistakes_in_different_rules_gets_three(
    app: Flask, api: Api
) -> None:
    content = active_content(api, "monitoring_rules")["content"]
    broken = _broken(content, "      types: [dishonest_debtor]", "      types: [dishonest]")
    broken = _broken(
        broken,
        "      alert: {level: red, category: watchlist_hit}",
        "      alert: {level: crimson, category: watchlist_hit}",
    )
    broken = _broken(
        broken,
        "      threshold: {type: litigation, count: 3, days: 90}",
        "      threshold: {type: litigation, count: 3, days: 0}",
    )
    found = _refused(api, "monitoring_rules", broken)
    assert {k: p["code"] for k, p in found.items()} == {
        "rules[0].match.types[0]": "config.unknown_name",
        "rules[2].actions.alert.level": "config.unknown_name",
        "rules[3].match.threshold.days": "rules.at_least",
    }
    assert found["rules[2].actions.alert.level"]["params"]["value"] == "crimson"
    # three mistakes in one rule: each is named, none hides another
    broken = _broken(
        content,
        "      alert: {level: red, category: watchlist_hit}\n"
        "      tag: {name: 疑似名单命中, expires_after: 90d}",
        "      alert: {level: crimson, category: gossip}\n"
        "      tag: {name: 疑似名单命中, expires_after: soon}",
    )
    found = _refused(api, "monitoring_rules", broken)
    assert {k: p["code"] for k, p in found.items()} == {
        "rules[2].actions.alert.level": "config.unknown_name",
        "rules[2].actions.alert.category": "config.unknown_name",
        "rules[2].actions.tag.expires_after": "config.duration",
    }
    assert _changes(app) == 0


def test_routing_and_checklist_drafts_with_three_mistakes_get_three(app: Flask, api: Api) -> None:
    routing = yaml.safe_load(active_content(api, "alert_routing")["content"])
    routing["sla"]["red"]["respond"] = "soon"
    routing["business_hours"]["start"] = "9am"
    routing["routing"]["rules"][0]["roles"] = ["janitor"]
    found = _refused(api, "alert_routing", yaml.safe_dump(routing, allow_unicode=True))
    assert {k: p["code"] for k, p in found.items()} == {
        "sla.red.respond": "config.duration",
        "business_hours.start": "config.clock",
        "routing.rules[0].roles[0]": "config.unknown_name",
    }
    checklist = yaml.safe_load(active_content(api, "dd_checklist")["content"])
    checklist["checklist"]["Basic"] = checklist["checklist"].pop("basic_info")
    del checklist["checklists"]["natural_person"]["identity"]["en"]
    checklist["risk_grades"] = []
    found = _refused(api, "dd_checklist", yaml.safe_dump(checklist, allow_unicode=True))
    assert {k: p["code"] for k, p in found.items()} == {
        "checklist.Basic": "config.item_key",
        "checklists.natural_person.identity": "config.item_labels",
        "risk_grades": "config.risk_grades",
    }
    assert _changes(app) == 0
