"""The admission case page of a possible watch-list match: the hits with their path in
the reader's language, and the reviewer's decision from the console."""

from __future__ import annotations

import pytest
from flask import Flask

from api.extensions import db
from tests.support.app import Api
from tests.support.onboarding import A_FACTS, admit, code
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.screening.watchlist import import_watchlist


def matched_case(app: Flask, api: Api) -> int:
    with app.app_context():
        import_watchlist(
            db.session,
            [
                {
                    "credit_code": "",
                    "name": "深圳华强科技有限公司",
                    "list": "blacklist",
                    "reason": "诈骗",
                }
            ],
            Actor.system("test"),
            source="test",
        )
        db.session.commit()
    created = api.post(
        "sales1",
        "/api/v1/clients",
        json={"name": "深圳市華強科技有限公司", "credit_code": code(801), **A_FACTS},
    )
    case = admit(app, api, created.get_json()["id"])
    assert case["state"] == "name_review"
    return case["id"]


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh_CN", ("疑似名单命中", "黑名单", "繁简转换", "深圳华强科技有限公司", "诈骗")),
        ("en", ("Possible watch-list matches", "Blacklist", "traditional script")),
    ],
)
def test_the_case_page_lists_the_matches_with_their_path(
    console_factory, app: Flask, api: Api, lang: str, words: tuple[str, ...]
) -> None:
    case_id = matched_case(app, api)
    risk = console_factory("risk1")
    risk.post("/language", {"lang": lang, "next": "/inbox"}, token_from="/inbox")

    page = risk.get(f"/cases/{case_id}").get_data(as_text=True)

    for word in words:
        assert word in page, word
    assert 'data-action-form="confirm_match"' in page
    assert 'data-action-form="clear_matches"' in page
    sales_page = console_factory("sales1").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "深圳华强科技有限公司" not in sales_page


def test_a_reviewer_clears_the_match_from_the_console(
    console_factory, app: Flask, api: Api
) -> None:
    case_id = matched_case(app, api)
    risk = console_factory("risk1")

    response = risk.post(
        f"/cases/{case_id}/actions/clear_matches",
        {"comment": "法定代表人和地址都不同"},
        token_from=f"/cases/{case_id}",
    )

    assert response.status_code in (200, 302, 303), response.get_data(as_text=True)
    with app.app_context():
        case = db.session.get(WorkflowInstance, case_id)
        assert case.state == "risk_review"
        assert case.data["name_review"]["reason"] == "法定代表人和地址都不同"
