"""Texts the workflow writes itself (the screening's "rated C (scorecard)", an alert's
notification) read in the page's language; the stored English and the API stay as they were,
and a comment a person wrote is shown as written."""

from __future__ import annotations

import re

import pytest
from flask import Flask
from flask_babel import force_locale

from api.extensions import db
from tests.api.conftest import drain
from workflow.creditcode import make_credit_code
from workflow.domain import alerts, client_service, onboarding
from workflow.identity import Actor
from workflow.models import AuditRecord, Notification

from .console_client import Console
from .test_web_english import untranslated

SALES = Actor("sales1", frozenset({"sales"}))
RISK1 = Actor("risk1", frozenset({"risk_officer"}))


def text_of(html: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", html))


def console_in(console_factory, lang: str, username: str) -> Console:  # noqa: ANN001
    console = console_factory()
    console.post("/language", {"lang": lang, "next": "/login"}, token_from="/login")
    assert console.login(username).status_code == 302
    return console


def make_client(serial: int) -> int:
    client = client_service.create_client(db.session, {
        "name": "Acme Trading Co", "credit_code": make_credit_code(f"91310000MA{serial:07d}"),
        "legal_representative": "John Smith", "bank_account": "6222020000111122223",
        "registered_capital": "30000000", "contacts": [{"name": "Jane Doe", "phone": "13812345678"}],
        "industry": "trading", "region": "Shanghai",
        "facts": {"litigation_count": 1, "negative_news_count": 0, "payment_history": "good"},
    }, SALES)
    db.session.flush()
    return client.id


@pytest.fixture
def screened_case(app: Flask) -> tuple[int, str]:
    """An admission case screened by the background task: (case id, stored comment)."""
    with app.app_context():
        case = onboarding.start_admission(db.session, make_client(2001), SALES)
        db.session.commit()
        case_id = case.id
    drain(app)
    with app.app_context():
        record = db.session.query(AuditRecord).filter_by(instance_id=case_id, trigger="screened").one()
        return case_id, record.comment or ""


def test_screened_comment_reads_in_the_pages_language(console_factory, app: Flask, api,  # noqa: ANN001
                                                      screened_case: tuple[int, str]) -> None:
    case_id, stored = screened_case
    match = re.fullmatch(r"rated (\w) \((rule|scorecard)\)", stored)
    assert match, stored
    rating, by = match.groups()
    zh = text_of(console_in(console_factory, "zh_CN", "risk1").get(f"/cases/{case_id}").get_data(as_text=True))
    zh_by = "由评分卡判定" if by == "scorecard" else "由规则判定"
    assert f"评级 {rating}（{zh_by}）" in zh and stored not in zh
    en_page = console_in(console_factory, "en", "risk1").get(f"/cases/{case_id}").get_data(as_text=True)
    en_by = "decided by the scorecard" if by == "scorecard" else "decided by the rules"
    assert f"Rated {rating} ({en_by})" in text_of(en_page)
    assert untranslated(en_page) == []
    # The API's audit trail keeps the English the workflow stored.
    audit = api.get("risk1", f"/api/v1/workflows/{case_id}/audit")
    assert audit.status_code == 200 and stored in audit.get_data(as_text=True)


def test_alert_notification_reads_in_the_pages_language(console_factory, app: Flask) -> None:
    with app.app_context():
        client_id = make_client(2002)
        alerts.raise_alert(db.session, RISK1, {
            "client_id": client_id, "level": "red", "category": "negative_news",
            "title": "Late payments reported", "details": "Two suppliers complain"})
        db.session.commit()
    drain(app)
    with app.app_context():
        note = db.session.query(Notification).filter_by(event="alert_raised").first()
        assert note is not None
        owner, title, body = note.username, note.title, note.body
        case = note.instance_id
        # The forms alert_notify and alert_breached write (workflow/domain/alert_loop.py, alert_sla.py).
        db.session.add_all([
            Notification(username=owner, event="alert_reopened", instance_id=case,
                         title="[red] respond: Late payments reported",
                         body=f"sales1 did respond on alert case #{case}. will pay"),
            Notification(username=owner, event="alert_breached", instance_id=case,
                         title="[red] SLA to respond breached: Late payments reported", body=""),
        ])
        db.session.commit()
    assert title == "[red] Late payments reported"  # stored as the workflow wrote it
    assert body == "Acme Trading Co: negative_news. Two suppliers complain"
    zh = text_of(console_in(console_factory, "zh_CN", owner).get("/notifications").get_data(as_text=True))
    assert "【红色】Late payments reported" in zh
    assert "Acme Trading Co：负面舆情。Two suppliers complain" in zh
    assert "negative_news" not in zh and "[red]" not in zh
    assert "【红色】响应：Late payments reported" in zh
    assert f"sales1 对预警案件 #{case} 执行了响应。 will pay" in zh
    assert "【红色】响应时限已超：Late payments reported" in zh
    en = text_of(console_in(console_factory, "en", owner).get("/notifications").get_data(as_text=True))
    assert "[Red] Late payments reported" in en
    assert "Acme Trading Co: Negative news. Two suppliers complain" in en
    assert "[Red] Respond: Late payments reported" in en
    assert f"sales1 did Respond on alert case #{case}. will pay" in en
    assert "[Red] SLA to respond breached: Late payments reported" in en


def test_unrecognised_texts_are_shown_as_stored(console_factory, app: Flask) -> None:
    """A notification whose title is not the form the workflow writes keeps its text."""
    with app.app_context():
        db.session.add(Notification(username="sales1", event="alert_raised",
                                    title="[red] hand-written", body="as typed", instance_id=None))
        db.session.commit()
    zh = text_of(console_in(console_factory, "zh_CN", "sales1").get("/notifications").get_data(as_text=True))
    assert "[red] hand-written" in zh and "as typed" in zh


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh_CN", "尽职调查 #7 附条件通过"), ("en", "Due diligence #7 passed with conditions")])
def test_due_diligence_outcome_comment(app: Flask, lang: str, expected: str) -> None:
    from web.system_texts import comment_text

    record = AuditRecord(kind="transition", actor="system:due_diligence",
                         trigger="due_diligence_passed", comment="due diligence #7 passed_with_conditions",
                         payload={"conditions": ["quarterly statements"]})
    person = AuditRecord(kind="transition", actor="risk1", trigger="due_diligence_passed",
                         comment="due diligence #7 passed_with_conditions", payload={})
    wrong = AuditRecord(kind="transition", actor="system:due_diligence",
                        trigger="due_diligence_failed", comment="due diligence #7 passed", payload={})
    with app.test_request_context(), force_locale(lang):
        assert comment_text(record) == expected
        assert comment_text(person) == person.comment
        assert comment_text(wrong) == wrong.comment
