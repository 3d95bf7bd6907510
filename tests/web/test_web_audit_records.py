"""Audit search in the console (was API-only): auditors find records by person, case,
client, action, event and day, oldest first, each opening its case; others are refused."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from api.extensions import db
from workflow.records.identity import Actor
from workflow.risk import onboarding
from workflow.risk.clients import service as client_service
from workflow.risk.clients.creditcode import make_credit_code

SALES = Actor("sales1", frozenset({"sales"}))


def submitted(app: Flask) -> tuple[int, int]:
    with app.app_context():
        client = client_service.create_client(
            db.session,
            {
                "name": "嘉兴审计检索示例有限公司",
                "credit_code": make_credit_code("91330400MA2AU0001"),
            },
            SALES,
        )
        case = onboarding.start_admission(db.session, client.id, SALES, comment="请审批")
        db.session.commit()
        return client.id, case.id


def record_ids(page: str) -> list[int]:
    return [int(i) for i in re.findall(r'data-record="(\d+)"', page)]


@pytest.mark.parametrize(("lang", "submit_words"), [("zh_CN", "提交准入"), ("en", "Submit")])
def test_auditors_search_the_trail(
    console_factory, app: Flask, lang: str, submit_words: str
) -> None:
    client_id, case_id = submitted(app)
    auditor = console_factory()
    auditor.post("/language", {"lang": lang, "next": "/login"}, token_from="/login")
    assert auditor.login("auditor1").status_code == 302
    assert 'href="/audit/records"' in auditor.get("/audit").get_data(as_text=True)
    page = auditor.get(f"/audit/records?instance_id={case_id}").get_data(as_text=True)
    ids = record_ids(page)
    assert len(ids) == 2 and ids == sorted(
        ids, reverse=True
    )  # submitted, then started: newest first
    assert f'href="/cases/{case_id}"' in page and submit_words in page and "请审批" in page
    page = auditor.get(f"/audit/records?client_id={client_id}&kind=client.created").get_data(
        as_text=True
    )
    assert len(record_ids(page)) == 1 and f'href="/clients/{client_id}"' in page
    page = auditor.get("/audit/records?actor=nobody-at-all").get_data(as_text=True)
    assert record_ids(page) == [] and ("没有符合" in page or "No audit records match" in page)
    assert auditor.get("/audit/records?instance_id=abc").status_code == 422
    assert auditor.get("/audit/records?since=2026-13-01").status_code == 422


def test_audit_search_is_for_auditors(console_factory, app: Flask) -> None:
    submitted(app)
    for username in ("sales1", "risk1", "manager1"):
        assert console_factory(username).get("/audit/records").status_code == 403, username
    assert 'href="/audit/records"' not in console_factory("manager1").get("/audit").get_data(
        as_text=True
    )
