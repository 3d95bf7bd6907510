"""Problem documents stay well-formed whatever extra members an error carries."""

from __future__ import annotations

from api.problems import handle_riskloop
from workflow.errors import Conflict


def test_an_extra_member_named_like_a_standard_one_is_dropped_not_a_500(app):
    with app.test_request_context("/api/v1/clients/1", method="PATCH"):
        response = handle_riskloop(Conflict("it clashes", status="active", title="x", fields=["a"]))
    body = response.get_json()
    assert response.status_code == 409 and response.mimetype == "application/problem+json"
    assert (body["status"], body["detail"], body["fields"]) == (409, "it clashes", ["a"])
    assert body["title"] != "x"


def test_a_coded_refusal_carries_its_code_and_an_uncoded_one_none(app):
    with app.test_request_context("/api/v1/config/rule_set/changes", method="POST"):
        coded = handle_riskloop(Conflict("draft again", code="config.stale_draft")).get_json()
        uncoded = handle_riskloop(Conflict("it clashes")).get_json()
    assert coded["code"] == "config.stale_draft" and coded["detail"] == "draft again"
    assert "code" not in uncoded
