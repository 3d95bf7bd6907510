"""The admission case page of a possible watch-list match: the hits with their path in
the reader's language, and the reviewer's decision from the console."""

from __future__ import annotations

import pytest
from flask import Flask

from api.extensions import db
from tests.support.app import drain
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk import onboarding
from workflow.risk.clients import service as client_service
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.screening.watchlist import import_watchlist

SALES = Actor("sales1", frozenset({"sales"}))


def matched_case(app: Flask) -> int:
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
        client = client_service.create_client(
            db.session,
            {
                "name": "深圳市華強科技有限公司",
                "credit_code": make_credit_code("91440300MA5D00001"),
                "registered_capital": "30000000",
            },
            SALES,
        )
        case = onboarding.start_admission(db.session, client.id, SALES)
        db.session.commit()
        case_id = case.id
    for _ in range(5):
        if drain(app) == 0:
            break
    with app.app_context():
        assert db.session.get(WorkflowInstance, case_id).state == "name_review"
    return case_id


@pytest.mark.parametrize(
    ("lang", "words"),
    [
        ("zh_CN", ("疑似名单命中", "黑名单", "繁简转换", "深圳华强科技有限公司", "诈骗")),
        ("en", ("Possible watch-list matches", "Blacklist", "traditional script")),
    ],
)
def test_the_case_page_lists_the_matches_with_their_path(
    console_factory, app: Flask, lang: str, words: tuple[str, ...]
) -> None:
    case_id = matched_case(app)
    risk = console_factory("risk1")
    risk.post("/language", {"lang": lang, "next": "/inbox"}, token_from="/inbox")

    page = risk.get(f"/cases/{case_id}").get_data(as_text=True)

    for word in words:
        assert word in page, word
    assert 'data-action-form="confirm_match"' in page
    assert 'data-action-form="clear_matches"' in page
    sales_page = console_factory("sales1").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "深圳华强科技有限公司" not in sales_page


def test_a_reviewer_clears_the_match_from_the_console(console_factory, app: Flask) -> None:
    case_id = matched_case(app)
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
