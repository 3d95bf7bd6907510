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
from workflow import texts
from workflow.errors import Message
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, Notification
from workflow.records.outbox import enqueue
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
    client = client_service.create_client(
        db.session,
        {
            "name": "Acme Trading Co",
            "credit_code": make_credit_code(f"91310000MA{serial:07d}"),
            "legal_representative": "John Smith",
            "bank_account": "6222020000111122223",
            "registered_capital": "30000000",
            "contacts": [{"name": "Jane Doe", "phone": "13812345678"}],
            "industry": "trading",
            "region": "Shanghai",
            "facts": {"litigation_count": 1, "negative_news_count": 0, "payment_history": "good"},
        },
        SALES,
    )
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
        record = (
            db.session.query(AuditRecord).filter_by(instance_id=case_id, trigger="screened").one()
        )
        return case_id, record.comment or ""


def test_screened_comment_reads_in_the_pages_language(
    console_factory,
    app: Flask,
    api,  # noqa: ANN001
    screened_case: tuple[int, str],
) -> None:
    case_id, stored = screened_case
    match = re.fullmatch(r"rated (\w) \((rule|scorecard)\)", stored)
    assert match, stored
    rating, by = match.groups()
    zh = text_of(
        console_in(console_factory, "zh_CN", "risk1")
        .get(f"/cases/{case_id}")
        .get_data(as_text=True)
    )
    zh_by = "由评分卡判定" if by == "scorecard" else "由规则判定"
    assert f"评级 {rating}（{zh_by}）" in zh and stored not in zh
    en_page = (
        console_in(console_factory, "en", "risk1").get(f"/cases/{case_id}").get_data(as_text=True)
    )
    en_by = "decided by the scorecard" if by == "scorecard" else "decided by the rules"
    assert f"Rated {rating} ({en_by})" in text_of(en_page)
    assert untranslated(en_page) == []
    # The API's audit trail keeps the English the workflow stored.
    audit = api.get("risk1", f"/api/v1/workflows/{case_id}/audit")
    assert audit.status_code == 200 and stored in audit.get_data(as_text=True)


def test_alert_notification_reads_in_the_pages_language(console_factory, app: Flask) -> None:
    from workflow.engine import firing

    with app.app_context():
        client_id = make_client(2002)
        alerts.raise_alert(
            db.session,
            RISK1,
            {
                "client_id": client_id,
                "level": "red",
                "category": "negative_news",
                "title": "Late payments reported",
                "details": "Two suppliers complain",
            },
        )
        db.session.commit()
    drain(app)
    with app.app_context():
        note = db.session.query(Notification).filter_by(event="alert_raised").first()
        assert note is not None
        owner, title, body = note.username, note.title, note.body
        case = note.instance_id
        assert case is not None
        assert (note.code, note.params) == (
            "alert.raised",
            {
                "level": "red",
                "title": "Late payments reported",
                "client": "Acme Trading Co",
                "category": "negative_news",
                "details": "Two suppliers complain",
            },
        )
        # The respond deadline passes: the timer escalates (alert_breached tells the owners).
        firing.fire(db.session, case, "escalate", Actor.system("timer"))
        # The form alert_notify writes (workflow/risk/alerts/loop.py) for a step with a comment.
        db.session.add(
            Notification(
                username=owner,
                event="alert_reopened",
                instance_id=case,
                **texts.notification(
                    "alert.action",
                    level="red",
                    trigger="respond",
                    title="Late payments reported",
                    actor="sales1",
                    case=case,
                    comment="will pay",
                    definition="alert_remediation",
                    version=2,
                ),
            )
        )
        db.session.commit()
    drain(app)
    with app.app_context():
        breached = (
            db.session.query(Notification).filter_by(event="alert_breached", username=owner).one()
        )
        assert breached.code == "alert.breached" and breached.params is not None
        assert breached.params["stage"] == "respond"
        # Stored as the workflow always wrote it (the API shows it so).
        assert breached.title == "[red] SLA to respond breached: Late payments reported"
        reopened = db.session.query(Notification).filter_by(event="alert_reopened").one()
        assert reopened.title == "[red] respond: Late payments reported"
        assert reopened.body == f"sales1 did respond on alert case #{case}. will pay"
    assert title == "[red] Late payments reported"  # stored as the workflow wrote it
    assert body == "Acme Trading Co: negative_news. Two suppliers complain"
    zh = text_of(
        console_in(console_factory, "zh_CN", owner).get("/notifications").get_data(as_text=True)
    )
    assert "【红色】Late payments reported" in zh
    assert "Acme Trading Co：负面舆情。Two suppliers complain" in zh
    assert "negative_news" not in zh and "[red]" not in zh
    assert "【红色】响应：Late payments reported" in zh
    assert f"sales1 对预警案件 #{case} 执行了响应。 will pay" in zh
    assert "【红色】响应时限已超：Late payments reported" in zh
    en = text_of(
        console_in(console_factory, "en", owner).get("/notifications").get_data(as_text=True)
    )
    assert "[Red] Late payments reported" in en
    assert "Acme Trading Co: Negative news. Two suppliers complain" in en
    assert "[Red] Respond: Late payments reported" in en
    assert f"sales1 did Respond on alert case #{case}. will pay" in en
    assert "[Red] SLA to respond breached: Late payments reported" in en


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_notifications_stored_before_codes_are_shown_as_stored(
    console_factory,
    app: Flask,  # noqa: ANN001
    lang: str,
) -> None:
    """A row written before codes existed (no code) keeps its text in either language, even
    when it reads like one the workflow writes; so does a code the console does not know."""
    with app.app_context():
        db.session.add_all(
            [
                Notification(
                    username="sales1",
                    event="alert_raised",
                    title="[red] hand-written",
                    body="as typed",
                    instance_id=None,
                ),
                Notification(
                    username="sales1",
                    event="alert_breached",
                    instance_id=None,
                    title="[red] SLA to respond breached: Old alert",
                    body="",
                ),
                Notification(
                    username="sales1",
                    event="alert_digest",
                    body="New alerts / 新预警:",
                    title="预警日报 Alert digest 2026-11-30: 1 new, 0 breached",
                ),
                Notification(
                    username="sales1",
                    event="info",
                    title="stored title",
                    body="stored body",
                    code="not.a.known.code",
                    params={},
                ),
            ]
        )
        db.session.commit()
    page = text_of(
        console_in(console_factory, lang, "sales1").get("/notifications").get_data(as_text=True)
    )
    assert "[red] hand-written" in page and "as typed" in page
    assert "[red] SLA to respond breached: Old alert" in page
    assert "预警日报 Alert digest 2026-11-30: 1 new, 0 breached" in page
    assert "New alerts / 新预警:" in page
    assert "stored title" in page and "stored body" in page


@pytest.mark.parametrize(
    ("lang", "expected"),
    [("zh_CN", "尽职调查 #7 附条件通过"), ("en", "Due diligence #7 passed with conditions")],
)
def test_due_diligence_outcome_comment(app: Flask, lang: str, expected: str) -> None:
    from web.texts import comment_text

    written = texts.say("comment.due_diligence_outcome", case=7, outcome="passed_with_conditions")
    assert written == "due diligence #7 passed_with_conditions"  # the English the API shows
    record = AuditRecord(
        kind="transition",
        actor="system:due_diligence",
        trigger="due_diligence_passed",
        comment=str(written),
        payload={"conditions": ["quarterly statements"], **coded(written)},
    )
    old = AuditRecord(
        kind="transition",
        actor="system:due_diligence",
        trigger="due_diligence_passed",
        comment="due diligence #7 passed_with_conditions",
        payload={},
    )
    person = AuditRecord(
        kind="transition",
        actor="risk1",
        trigger="due_diligence_passed",
        comment="due diligence #7 passed_with_conditions",
        payload={},
    )
    with app.test_request_context(), force_locale(lang):
        assert comment_text(record) == expected
        assert comment_text(old) == old.comment
        assert comment_text(person) == person.comment


def coded(message: Message) -> dict[str, object]:
    """The payload keys the trail adds beside a coded comment."""
    return {texts.COMMENT_CODE: message.code, texts.COMMENT_PARAMS: message.params}


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
            db.session, {"client_id": client_id, "number": "HT 7 of 2026", "end": "2027-01-31"}, now
        )
        case_id, state = review.id, review.state
        definition, version = review.definition, review.definition_version
        db.session.commit()
    drain(app)
    with app.app_context():
        notes = {n.event: n for n in db.session.query(Notification).filter_by(username="risk1")}
        assert (
            notes["due_diligence_due"].title
            == f"Periodic due-diligence review of Acme Trading Co is due (case #{case_id})"
        )
        assert (
            notes["contract_expiring"].title
            == "Contract HT 7 of 2026 of Acme Trading Co ends on 2027-01-31"
        )
        assert notes["due_diligence_due"].code == "review.due"
        assert notes["contract_expiring"].params == {
            "number": "HT 7 of 2026",
            "client": "Acme Trading Co",
            "end": "2027-01-31",
        }
        # What mark_breached queues for the notify task, and two rows stored before codes.
        enqueue(
            db.session,
            "notify",
            {
                "event": "sla_breached",
                "instance_id": case_id,
                "state": state,
                "roles": ["risk_officer"],
                "definition": definition,
                "definition_version": version,
            },
        )
        db.session.add_all(
            [
                Notification(
                    username="risk1",
                    event="sla_breached",
                    instance_id=case_id,
                    title=f"SLA breached on case #{case_id} (nowhere)",
                    body="",
                ),
                Notification(
                    username="risk1",
                    event="contract_expiring",
                    title="Contract HT 8 of Acme Trading Co ends on 2027-01-31",
                    body="",
                ),
            ]
        )
        db.session.commit()
    drain(app)
    with app.app_context():
        breached = (
            db.session.query(Notification)
            .filter_by(event="sla_breached", code="case.sla_breached", username="risk1")
            .one()
        )
        assert breached.title == f"SLA breached on case #{case_id} ({state})"
        state_zh = runtime_of(app).catalog.get("due_diligence").states[state].label["zh-CN"]
        state_en = runtime_of(app).catalog.get("due_diligence").states[state].label["en"]
    zh = text_of(
        console_in(console_factory, "zh_CN", "risk1").get("/notifications").get_data(as_text=True)
    )
    assert f"Acme Trading Co 的定期尽职调查复核已到期（案件 #{case_id}）" in zh
    assert "Acme Trading Co 的合同 HT 7 of 2026 将于 2027-01-31 到期" in zh
    assert f"案件 #{case_id} 超时（{state_zh}）" in zh
    # Stored before codes: shown as stored.
    assert f"SLA breached on case #{case_id} (nowhere)" in zh
    assert "Contract HT 8 of Acme Trading Co ends on 2027-01-31" in zh
    en_html = (
        console_in(console_factory, "en", "risk1").get("/notifications").get_data(as_text=True)
    )
    en = text_of(en_html)
    assert f"Periodic due-diligence review of Acme Trading Co is due (case #{case_id})" in en
    assert "Contract HT 7 of 2026 of Acme Trading Co ends on 2027-01-31" in en
    assert f"SLA breached on case #{case_id} ({state_en})" in en
    assert untranslated(en_html) == []
    # The case's timeline: the periodic review's opening comment.
    zh_case = text_of(
        console_in(console_factory, "zh_CN", "risk1")
        .get(f"/cases/{case_id}")
        .get_data(as_text=True)
    )
    assert "定期复核到期（2026-12-01）" in zh_case and "periodic review due" not in zh_case


def test_alert_digest_reads_in_the_pages_language(console_factory, app: Flask) -> None:
    from workflow.risk.alerts.intake import Alert
    from workflow.risk.notify import digest

    with app.app_context():
        client_id = make_client(2004)
        alerts.raise_alert(
            db.session,
            RISK1,
            {
                "client_id": client_id,
                "level": "yellow",
                "category": "negative_news",
                "title": "Court summons",
                "details": "A supplier sued",
            },
        )
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
        assert re.fullmatch(r"Alert digest \S+: 1 new, 0 breached", note.title)  # English only
        assert note.code == "digest.sent" and note.params is not None
        assert [a["id"] for a in note.params["new"]] == [alert_id] and note.params["breached"] == []
        day = note.params["day"]
        assert note.body.startswith(
            f"New alerts:\n- [yellow] #{alert_id} Court summons (client Acme Trading Co, "
        )
        # A digest stored before codes (the bilingual literal): shown as stored.
        db.session.add(
            Notification(
                username=owner,
                event="alert_digest",
                title=f"预警日报 Alert digest {day}: 5 new, 0 breached",
                body="",
            )
        )
        db.session.commit()
    zh = text_of(
        console_in(console_factory, "zh_CN", owner).get("/notifications").get_data(as_text=True)
    )
    assert f"预警日报 {day}：新增 1 条，超时 0 条" in zh
    assert f"新预警： - 【黄色】#{alert_id} Court summons（客户 Acme Trading Co，" in zh
    assert f"案件 {case}） 超时： - 无" in zh
    assert f"预警日报 Alert digest {day}: 5 new, 0 breached" in zh
    en_html = console_in(console_factory, "en", owner).get("/notifications").get_data(as_text=True)
    en = text_of(en_html)
    assert f"Alert digest {day}: 1 new, 0 breached" in en
    assert f"New alerts: - [Yellow] #{alert_id} Court summons (client Acme Trading Co, " in en
    assert f"case {case}) SLA breached: - none" in en
    assert "已预警" in zh and "Warned" in en  # the case's state, worded
    assert "新预警" not in en.replace(f"预警日报 Alert digest {day}: 5 new", "")


@pytest.mark.parametrize(
    ("lang", "timer", "periodic", "batch"),
    [
        ("zh_CN", "定时器 41 于", "定期复核到期（2026-12-01）", "批量导入：clients.xlsx"),
        ("en", "Timer 41 due", "Periodic review due 2026-12-01", "Batch import of clients.xlsx"),
    ],
)
def test_timer_review_and_import_comments(
    app: Flask, lang: str, timer: str, periodic: str, batch: str
) -> None:
    from web.texts import comment_text

    def record(message: Message, **fields: object) -> AuditRecord:
        return AuditRecord(comment=str(message), payload=coded(message), **fields)

    fired = record(
        texts.say("comment.timer_due", timer=41, due="2026-12-01T09:30:00Z"),
        kind="transition",
        actor="system:timer",
        trigger="escalate",
    )
    opened = record(
        texts.say("comment.periodic_review_due", date="2026-12-01"),
        kind="started",
        actor="system:periodic_review",
        definition="due_diligence",
    )
    started = record(
        texts.say("comment.batch_import", file="clients.xlsx"),
        kind="started",
        actor="sales1",
        definition="client_onboarding",
    )
    # Stored before codes, or written by a person: shown as stored.
    old_timer = AuditRecord(
        kind="transition",
        actor="system:timer",
        trigger="escalate",
        comment="timer 41 due 2026-12-01T09:30:00Z",
        payload={},
    )
    old_review = AuditRecord(
        kind="started",
        actor="system:periodic_review",
        definition="due_diligence",
        comment="periodic review due 2026-12-01",
        payload={"data": {"period": "2026-12"}},
    )
    by_person = AuditRecord(
        kind="transition",
        actor="sales1",
        definition="client_onboarding",
        trigger="submit",
        comment="batch import of clients.xlsx",
        payload={},
    )
    assert (fired.comment, opened.comment, started.comment) == (
        "timer 41 due 2026-12-01T09:30:00Z",
        "periodic review due 2026-12-01",
        "batch import of clients.xlsx",
    )
    with app.test_request_context(), force_locale(lang):
        assert comment_text(fired).startswith(timer) and "2026" in comment_text(fired)
        assert comment_text(opened) == periodic
        assert comment_text(started) == batch
        for old in (old_timer, old_review, by_person):
            assert comment_text(old) == old.comment
