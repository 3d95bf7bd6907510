"""Texts the workflow writes itself (the screening's "rated C (scorecard)", an alert's
notification) read in the page's language; the stored English and the API stay as they were,
and a comment a person wrote is shown as written."""

from __future__ import annotations

import re
from datetime import datetime, timedelta

import pytest
from flask import Flask
from flask_babel import force_locale

from api.extensions import db, runtime_of
from tests.support.app import drain
from tests.support.console import Console
from tests.support.english import untranslated
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, Notification
from workflow.risk import onboarding
from workflow.risk.alerts import intake as alerts
from workflow.risk.clients import service as client_service
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.model import Client

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


def test_review_contract_and_case_sla_notifications(console_factory, app: Flask) -> None:
    """The periodic review's notice (open_due_review), a contract reminder (remind_contract)
    and a case's SLA breach (mark_breached) read in the page's language."""
    from workflow.risk.due_diligence import periodic_review

    now = datetime(2026, 12, 1, 9, 0)
    with app.app_context():
        client_id = make_client(2003)
        client = db.session.get(Client, client_id)
        assert client is not None
        client.status = "active"
        client.contracts = [{"number": "HT 7 of 2026", "end": "2027-01-31"}]
        db.session.flush()
        review = periodic_review.open_due_review(db.session, client_id, now)
        assert review is not None
        assert periodic_review.remind_contract(
            db.session, {"client_id": client_id, "number": "HT 7 of 2026", "end": "2027-01-31"}, now)
        case_id, state = review.id, review.state
        db.session.commit()
    drain(app)
    with app.app_context():
        notes = {n.event: n for n in db.session.query(Notification).filter_by(username="risk1")}
        assert notes["due_diligence_due"].title == \
            f"Periodic due-diligence review of Acme Trading Co is due (case #{case_id})"
        assert notes["contract_expiring"].title == "Contract HT 7 of 2026 of Acme Trading Co ends on 2027-01-31"
        # The form mark_breached's notify writes (builtins._default_title), and two that are not.
        db.session.add_all([
            Notification(username="risk1", event="sla_breached", instance_id=case_id,
                         title=f"SLA breached on case #{case_id} ({state})", body=""),
            Notification(username="risk1", event="sla_breached", instance_id=case_id,
                         title=f"SLA breached on case #{case_id} (nowhere)", body=""),
            Notification(username="risk1", event="contract_expiring",
                         title="Contract HT 8 of Acme Trading Co ends on 2027-01-31", body=""),
        ])
        db.session.commit()
        state_zh = runtime_of(app).catalog.get("due_diligence").states[state].label["zh-CN"]
        state_en = runtime_of(app).catalog.get("due_diligence").states[state].label["en"]
    zh = text_of(console_in(console_factory, "zh_CN", "risk1").get("/notifications").get_data(as_text=True))
    assert f"Acme Trading Co 的定期尽职调查复核已到期（案件 #{case_id}）" in zh
    assert "Acme Trading Co 的合同 HT 7 of 2026 将于 2027-01-31 到期" in zh
    assert f"案件 #{case_id} 超时（{state_zh}）" in zh
    # Not the forms the workflow would write from the stored data: shown as stored.
    assert f"SLA breached on case #{case_id} (nowhere)" in zh
    assert "Contract HT 8 of Acme Trading Co ends on 2027-01-31" in zh
    en_html = console_in(console_factory, "en", "risk1").get("/notifications").get_data(as_text=True)
    en = text_of(en_html)
    assert f"Periodic due-diligence review of Acme Trading Co is due (case #{case_id})" in en
    assert "Contract HT 7 of 2026 of Acme Trading Co ends on 2027-01-31" in en
    assert f"SLA breached on case #{case_id} ({state_en})" in en
    assert untranslated(en_html) == []
    # The case's timeline: the periodic review's opening comment.
    zh_case = text_of(console_in(console_factory, "zh_CN", "risk1").get(f"/cases/{case_id}").get_data(as_text=True))
    assert "定期复核到期（2026-12-01）" in zh_case and "periodic review due" not in zh_case


def test_alert_digest_reads_in_the_pages_language(console_factory, app: Flask) -> None:
    from workflow.risk.alerts.intake import Alert
    from workflow.risk.notify import digest

    with app.app_context():
        client_id = make_client(2004)
        alerts.raise_alert(db.session, RISK1, {
            "client_id": client_id, "level": "yellow", "category": "negative_news",
            "title": "Court summons", "details": "A supplier sued"})
        db.session.commit()
        alert = db.session.query(Alert).one()
        sent = digest.send_digests(db.session, alert.created_at + timedelta(seconds=1))
        alert_id, case = alert.id, alert.instance_id
        db.session.commit()
    assert sent
    owner = sent[0]
    drain(app)
    with app.app_context():
        note = db.session.query(Notification).filter_by(event="alert_digest", username=owner).one()
        assert re.fullmatch(r"预警日报 Alert digest \S+: 1 new, 0 breached", note.title)
        day = note.title.split()[3].rstrip(":")
        # A digest title whose counts are not the digest's: shown as stored.
        db.session.add(Notification(username=owner, event="alert_digest",
                                    title=f"预警日报 Alert digest {day}: 5 new, 0 breached", body=""))
        db.session.commit()
    zh = text_of(console_in(console_factory, "zh_CN", owner).get("/notifications").get_data(as_text=True))
    assert f"预警日报 {day}：新增 1 条，超时 0 条" in zh
    assert f"新预警： - 【黄色】#{alert_id} Court summons（客户 {client_id}，" in zh
    assert f"案件 {case}） 超时： - 无" in zh
    assert f"预警日报 Alert digest {day}: 5 new, 0 breached" in zh
    en_html = console_in(console_factory, "en", owner).get("/notifications").get_data(as_text=True)
    en = text_of(en_html)
    assert f"Alert digest {day}: 1 new, 0 breached" in en
    assert f"New alerts: - [Yellow] #{alert_id} Court summons (client {client_id}, " in en
    assert f"case {case}) SLA breached: - none" in en
    assert "新预警" not in en.replace(f"预警日报 Alert digest {day}: 5 new", "")


@pytest.mark.parametrize(("lang", "timer", "periodic", "batch"), [
    ("zh_CN", "定时器 41 于", "定期复核到期（2026-12-01）", "批量导入：clients.xlsx"),
    ("en", "Timer 41 due", "Periodic review due 2026-12-01", "Batch import of clients.xlsx")])
def test_timer_review_and_import_comments(app: Flask, lang: str, timer: str, periodic: str,
                                          batch: str) -> None:
    from web.system_texts import comment_text

    fired = AuditRecord(kind="transition", actor="system:timer", trigger="escalate",
                        comment="timer 41 due 2026-12-01T09:30:00Z", payload={})
    odd_time = AuditRecord(kind="transition", actor="system:timer", trigger="escalate",
                           comment="timer 41 due 2026-12-01T09:30Z", payload={})
    by_person = AuditRecord(kind="transition", actor="risk1", trigger="escalate",
                            comment="timer 41 due 2026-12-01T09:30:00Z", payload={})
    opened = AuditRecord(kind="started", actor="system:periodic_review", definition="due_diligence",
                         comment="periodic review due 2026-12-01", payload={"data": {"period": "2026-12"}})
    other_period = AuditRecord(kind="started", actor="system:periodic_review", definition="due_diligence",
                               comment="periodic review due 2026-12-01", payload={"data": {"period": "2026-11"}})
    started = AuditRecord(kind="started", actor="sales1", definition="client_onboarding",
                          comment="batch import of clients.xlsx", payload={})
    submitted = AuditRecord(kind="transition", actor="sales1", definition="client_onboarding",
                            trigger="submit", comment="batch import of clients.xlsx", payload={})
    elsewhere = AuditRecord(kind="transition", actor="risk1", definition="due_diligence",
                            trigger="submit", comment="batch import of clients.xlsx", payload={})
    with app.test_request_context(), force_locale(lang):
        assert comment_text(fired).startswith(timer) and "2026" in comment_text(fired)
        assert comment_text(odd_time) == odd_time.comment
        assert comment_text(by_person) == by_person.comment
        assert comment_text(opened) == periodic
        assert comment_text(other_period) == other_period.comment
        assert comment_text(started) == batch and comment_text(submitted) == batch
        assert comment_text(elsewhere) == elsewhere.comment


@pytest.mark.parametrize(("lang", "expected"), [
    ("zh_CN", "附条件通过"), ("en", "passed with conditions")])
def test_due_diligence_outcome_read_from_the_child_case(app: Flask, lang: str, expected: str) -> None:
    """The child case named by the parent's comment decides the outcome shown; a comment the
    child does not bear out is shown as stored."""
    from web.system_texts import comment_text
    from workflow.risk.due_diligence import review as due_diligence

    with app.app_context():
        parent = onboarding.start_admission(db.session, make_client(2005), SALES)
        child = due_diligence.open_review(db.session, parent.subject_id or 0, Actor.system("onboarding"),
                                          reason="onboarding", parent_id=parent.id)
        child.state = "passed_with_conditions"
        db.session.flush()

        def record(comment: str, instance_id: int = parent.id) -> AuditRecord:
            return AuditRecord(kind="transition", actor="system:due_diligence", instance_id=instance_id,
                               trigger="due_diligence_passed", comment=comment, payload={})

        borne_out = record(f"due diligence #{child.id} passed_with_conditions")
        other_outcome = record(f"due diligence #{child.id} passed")
        other_parent = record(f"due diligence #{child.id} passed_with_conditions", instance_id=child.id)
        with app.test_request_context(), force_locale(lang):
            assert comment_text(borne_out).endswith(f"#{child.id} {expected}")
            assert comment_text(other_outcome) == other_outcome.comment
            assert comment_text(other_parent) == other_parent.comment
        db.session.rollback()
