"""Due-diligence review through the API: opening, every transition and refusal, the parent link."""

from __future__ import annotations

from pathlib import Path

import yaml
from flask import Flask

from api import sync_definitions
from api.extensions import db, runtime_of
from tests.support.app import Api
from tests.support.config_changes import approve, shipped_changes
from tests.support.due_diligence import checklist, make_client, open_case
from workflow.engine import firing as engine
from workflow.engine.definitions import parse_definition
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.due_diligence.review import open_review


def under_review(app: Flask, api: Api, analyst: str = "risk1") -> int:
    case = open_case(api, make_client(app))
    assert api.act(analyst, case["id"], "start").status_code == 200
    r = api.act(analyst, case["id"], "submit_for_review", checklist=checklist())
    assert r.status_code == 200, r.get_json()
    return int(case["id"])


def test_risk_officers_and_managers_open_a_review_and_others_are_refused(
    app: Flask, api: Api
) -> None:
    client_id = make_client(app)
    for user in ("sales1", "legal1", "auditor1", "admin"):
        r = api.post(user, f"/api/v1/clients/{client_id}/due-diligence", json={})
        assert r.status_code == 403, user
        assert r.get_json()["rule"] == "role"
    case = open_case(api, client_id, "manager1")
    assert case["definition"] == "due_diligence" and case["state"] == "opened"
    assert case["subject_id"] == client_id and case["data"]["reason"] == "ad_hoc"
    assert api.get("risk1", f"/api/v1/workflows/{case['id']}").get_json()["available_actions"] == [
        "start"
    ]
    # One open review per client; unknown clients and unknown fields are refused.
    again = api.post("risk1", f"/api/v1/clients/{client_id}/due-diligence", json={})
    assert again.status_code == 409 and again.get_json()["instance_id"] == case["id"]
    assert api.post("risk1", "/api/v1/clients/999999/due-diligence", json={}).status_code == 404
    bad = api.post("risk1", f"/api/v1/clients/{make_client(app)}/due-diligence", json={"x": 1})
    assert bad.status_code == 422 and "x" in bad.get_json()["errors"]


def test_an_incomplete_checklist_is_refused_naming_the_missing_items(app: Flask, api: Api) -> None:
    case = open_case(api, make_client(app))
    assert api.act("sales1", case["id"], "start").status_code == 403
    assert api.act("risk1", case["id"], "start").get_json()["to_state"] == "collecting"
    r = api.act(
        "risk1",
        case["id"],
        "submit_for_review",
        checklist=checklist(financials=None, compliance=None),
    )
    body = r.get_json()
    assert r.status_code == 422
    assert body["missing"] == ["financials", "compliance"]
    assert "financials" in body["detail"] and "compliance" in body["detail"]
    assert set(body["errors"]["checklist"]) == {"financials", "compliance"}
    r = api.act(
        "risk1",
        case["id"],
        "submit_for_review",
        checklist=checklist(
            reputation={"finding": "", "risk": "severe", "extra": 1},
            esg={"finding": "x", "risk": "low"},
        ),
    )
    errors = r.get_json()["errors"]["checklist"]
    assert r.status_code == 422 and set(errors) == {"reputation", "esg"}
    assert len(errors["reputation"]) == 3
    assert api.act("risk1", case["id"], "submit_for_review").status_code == 422
    state = api.get("risk1", f"/api/v1/workflows/{case['id']}").get_json()
    assert state["state"] == "collecting" and state["version"] == 2


def test_evidence_named_in_the_checklist_must_be_uploaded_to_the_case(app: Flask, api: Api) -> None:
    case = open_case(api, make_client(app))
    api.act("risk1", case["id"], "start")
    r = api.act(
        "risk1",
        case["id"],
        "submit_for_review",
        checklist=checklist(
            financials={"finding": "audited", "risk": "medium", "evidence": ["ab" * 32]}
        ),
    )
    assert r.status_code == 422
    assert "not uploaded" in r.get_json()["errors"]["checklist"]["financials"][0]


def test_the_analyst_never_decides_and_a_reviewer_sends_back_then_passes_with_conditions(
    app: Flask, api: Api
) -> None:
    case_id = under_review(app, api, "risk1")
    detail = api.get("risk1", f"/api/v1/workflows/{case_id}").get_json()
    assert detail["data"]["analyst"] == "risk1" and detail["data"]["overall_risk"] == "low"
    assert detail["available_actions"] == []
    for trigger, body in (
        ("pass", {}),
        ("fail", {"comment": "no"}),
        ("send_back", {"comment": "more"}),
        ("pass_with_conditions", {"conditions": ["x"]}),
    ):
        r = api.act("risk1", case_id, trigger, **body)
        assert r.status_code == 403 and r.get_json()["rule"] == "not_analyst", trigger
    assert api.act("sales1", case_id, "pass").get_json()["rule"] == "role"
    assert api.act("legal1", case_id, "pass").status_code == 403
    assert sorted(
        api.get("risk2", f"/api/v1/workflows/{case_id}").get_json()["available_actions"]
    ) == ["fail", "pass", "pass_with_conditions", "send_back"]
    # Sending back needs a reason; then the analyst completes and resubmits.
    assert api.act("risk2", case_id, "send_back").status_code == 422
    assert (
        api.act("risk2", case_id, "send_back", comment="add the 2025 accounts").get_json()[
            "to_state"
        ]
        == "collecting"
    )
    assert api.act("risk2", case_id, "pass").status_code == 409
    r = api.act(
        "risk1",
        case_id,
        "submit_for_review",
        checklist=checklist(financials={"finding": "2025 accounts show losses", "risk": "high"}),
    )
    assert r.get_json()["to_state"] == "under_review"
    assert api.act("risk2", case_id, "pass_with_conditions", conditions=[]).status_code == 422
    assert api.act("risk2", case_id, "pass_with_conditions").status_code == 422
    r = api.act(
        "risk2", case_id, "pass_with_conditions", conditions=["quarterly accounts", "guarantee"]
    )
    result = r.get_json()
    assert r.status_code == 200 and result["to_state"] == "passed_with_conditions"
    data = result["instance"]["data"]
    assert data["decision"]["conditions"] == ["quarterly accounts", "guarantee"]
    assert data["decision"]["by"] == "risk2" and data["overall_risk"] == "high"
    assert result["instance"]["is_open"] is False and result["instance"]["available_actions"] == []
    assert api.act("risk2", case_id, "pass").status_code == 409
    triggers = [
        a["trigger"]
        for a in api.get("auditor1", f"/api/v1/workflows/{case_id}/audit").get_json()["items"]
    ]
    assert triggers == [
        None,
        "start",
        "submit_for_review",
        "send_back",
        "submit_for_review",
        "pass_with_conditions",
    ]


def test_an_earlier_analyst_may_not_decide_after_another_one_resubmits(
    app: Flask, api: Api
) -> None:
    case_id = under_review(app, api, "risk1")
    api.act("risk2", case_id, "send_back", comment="redo")
    assert (
        api.act("manager1", case_id, "submit_for_review", checklist=checklist()).status_code == 200
    )
    r = api.act("risk1", case_id, "pass")
    assert r.status_code == 403 and r.get_json()["rule"] == "not_analyst"
    assert api.act("risk2", case_id, "pass").get_json()["to_state"] == "passed"


def test_a_manager_fails_a_review_with_reasons_and_sales_sees_only_the_outcome(
    app: Flask, api: Api
) -> None:
    case_id = under_review(app, api, "risk1")
    assert api.act("manager1", case_id, "fail").status_code == 422  # a comment is required
    r = api.act(
        "manager1",
        case_id,
        "fail",
        comment="undisclosed litigation",
        reasons=["undisclosed litigation", "negative news"],
    )
    assert r.get_json()["to_state"] == "failed"
    decision = r.get_json()["instance"]["data"]["decision"]
    assert decision["reasons"] == ["undisclosed litigation", "negative news"]
    sales_view = api.get("sales1", f"/api/v1/workflows/{case_id}").get_json()["data"]
    assert "checklist" not in sales_view and sales_view["decision"] == {
        "outcome": "failed",
        "at": decision["at"],
        "conditions": [],
    }
    assert api.get("sales2", f"/api/v1/workflows/{case_id}").status_code == 404


def test_checklist_items_come_from_the_definition(app: Flask, api: Api) -> None:
    """A company adds an item in YAML (a new version, deployed); no code changes."""
    source = (Path(__file__).parents[2] / "definitions" / "due_diligence.yaml").read_text()
    doc = yaml.safe_load(source)
    doc["version"] += 1
    doc["settings"]["checklist"]["esg"] = {"zh-CN": "环境与社会责任", "en": "ESG"}
    catalog = runtime_of(app).catalog
    catalog.add(
        parse_definition(
            yaml.safe_dump(doc, allow_unicode=True),
            "due_diligence_v2.yaml",
            catalog.registry,
            catalog.policy,
        )
    )
    with app.app_context():
        sync_definitions(app)  # start-up: the new version and checklist are proposed
    case = open_case(api, make_client(app))
    assert case["definition_version"] == doc["version"] - 1  # not approved yet
    api.act("risk1", case["id"], "start")
    r = api.act("risk1", case["id"], "submit_for_review", checklist=checklist())
    assert r.status_code == 200, r.get_json()  # the approved checklist, without esg
    [change] = shipped_changes(app, api, "dd_checklist")
    assert change["state"] == "awaiting_approval" and "esg" in change["data"]["content"]
    [definition] = shipped_changes(app, api, "definition:due_diligence")
    assert definition["data"]["version"] == doc["version"]
    assert approve(api, change).status_code == 200
    assert approve(api, definition).status_code == 200
    case = open_case(api, make_client(app))
    assert case["definition_version"] == doc["version"]
    api.act("risk1", case["id"], "start")
    r = api.act("risk1", case["id"], "submit_for_review", checklist=checklist())
    assert r.status_code == 422 and r.get_json()["missing"] == ["esg"]
    r = api.act(
        "risk1",
        case["id"],
        "submit_for_review",
        checklist=checklist(esg={"finding": "no issues", "risk": "low"}),
    )
    assert r.get_json()["to_state"] == "under_review"


def start_child(app: Flask, client_id: int) -> tuple[int, int]:
    with app.app_context():
        parent = engine.start(
            db.session, "test_dd_parent", Actor.system("onboarding"), subject_id=client_id
        )
        db.session.flush()
        child = open_review(
            db.session,
            client_id,
            Actor.system("onboarding"),
            reason="onboarding",
            parent_id=parent.id,
        )
        db.session.commit()
        return parent.id, child.id


def parent_of(app: Flask, parent_id: int) -> WorkflowInstance:
    with app.app_context():
        instance = db.session.get(WorkflowInstance, parent_id)
        assert instance is not None
        db.session.expunge(instance)
        return instance


def test_passing_with_conditions_moves_the_parent_onboarding_on(app: Flask, api: Api) -> None:
    client_id = make_client(app, status="pending_admission")
    parent_id, child_id = start_child(app, client_id)
    api.act("risk1", child_id, "start")
    api.act("risk1", child_id, "submit_for_review", checklist=checklist())
    r = api.act("risk2", child_id, "pass_with_conditions", conditions=["monthly statements"])
    assert r.status_code == 200, r.get_json()
    parent = parent_of(app, parent_id)
    assert parent.state == "dual_approval"
    assert parent.data["due_diligence"]["conditions"] == ["monthly statements"]
    assert parent.data["due_diligence"]["by"] == "system:due_diligence"
    audit = api.get("auditor1", f"/api/v1/workflows/{child_id}/audit").get_json()["items"]
    assert audit[-1]["payload"]["parent"] == {
        "instance_id": parent_id,
        "trigger": "due_diligence_passed",
    }


def test_passing_without_conditions_reports_an_empty_list(app: Flask, api: Api) -> None:
    parent_id, child_id = start_child(app, make_client(app, status="pending_admission"))
    api.act("risk1", child_id, "start")
    api.act("risk1", child_id, "submit_for_review", checklist=checklist())
    assert api.act("manager1", child_id, "pass").status_code == 200
    parent = parent_of(app, parent_id)
    assert parent.state == "dual_approval" and parent.data["due_diligence"]["conditions"] == []


def test_failing_rejects_the_parent_with_the_reasons(app: Flask, api: Api) -> None:
    parent_id, child_id = start_child(app, make_client(app, status="pending_admission"))
    api.act("risk1", child_id, "start")
    api.act("risk1", child_id, "submit_for_review", checklist=checklist())
    assert api.act("risk2", child_id, "fail", comment="shell company").status_code == 200
    parent = parent_of(app, parent_id)
    assert parent.state == "rejected" and parent.data["due_diligence"]["reasons"] == [
        "shell company"
    ]


def test_a_parent_that_cannot_take_the_outcome_rolls_the_decision_back(
    app: Flask, api: Api
) -> None:
    """Same transaction: if the parent refuses, the review is not decided either."""
    parent_id, child_id = start_child(app, make_client(app, status="pending_admission"))
    with app.app_context():
        engine.fire(
            db.session,
            parent_id,
            "due_diligence_failed",
            Actor.system("test"),
            {"reasons": ["withdrawn"]},
        )
        db.session.commit()
    api.act("risk1", child_id, "start")
    api.act("risk1", child_id, "submit_for_review", checklist=checklist())
    r = api.act("risk2", child_id, "pass")
    assert r.status_code == 409
    case = api.get("risk2", f"/api/v1/workflows/{child_id}").get_json()
    assert case["state"] == "under_review" and "decision" not in case["data"]
