"""Texts the system writes are stored as a code with params beside their English: on audit
records as payload keys (hashed with the payload), on notifications as columns. Records and
rows written before codes keep verifying and showing their stored text."""

from __future__ import annotations

from pathlib import Path

import pytest
from click.testing import CliRunner
from flask import Flask

from api.cli import main
from api.extensions import db
from tests.support.app import FIXTURES, TEST_KEYS, drain
from workflow import texts
from workflow.engine import firing
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, Notification
from workflow.risk import onboarding
from workflow.risk.clients import service as client_service
from workflow.risk.clients.creditcode import make_credit_code

SALES = Actor("sales1", frozenset({"sales"}))


def make_client(serial: int) -> int:
    client = client_service.create_client(
        db.session,
        {
            "name": "Acme Trading Co",
            "credit_code": make_credit_code(f"91310000MA{serial:07d}"),
            "legal_representative": "John Smith",
            "registered_capital": "30000000",
            "industry": "trading",
            "region": "Shanghai",
            "facts": {"litigation_count": 0, "negative_news_count": 0, "payment_history": "good"},
        },
        SALES,
    )
    db.session.flush()
    return client.id


def test_every_catalogue_code_is_worded_in_english_and_carries_its_params() -> None:
    written = texts.say("comment.rated", rating="C", decided_by="scorecard")
    assert written == "rated C (scorecard)"  # the English the API has always shown
    assert (written.code, written.params) == (
        "comment.rated",
        {"rating": "C", "decided_by": "scorecard"},
    )
    args = texts.notification(
        "alert.raised",
        level="red",
        title="T" * 300,
        client="Acme",
        category="litigation",
        details="sued",
    )
    assert args["code"] == "alert.raised" and len(args["title"]) == 255
    assert args["body"] == "Acme: litigation. sued"


def test_the_console_words_every_code_of_the_catalogue() -> None:
    from web.texts import system_words

    assert system_words() == set(texts.ENGLISH)


def test_a_system_comment_stores_code_and_params_and_audit_verify_passes_beside_old_records(
    app: Flask, db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    with app.app_context():
        case = onboarding.start_admission(
            db.session,
            make_client(3001),
            SALES,
            comment=texts.say("comment.batch_import", file="clients.xlsx"),
        )
        # A comment stored as plain text, as every system comment was before codes.
        firing.fire(db.session, case.id, "withdraw", SALES, comment="the admission was withdrawn")
        case_id = case.id
        db.session.commit()
    drain(app)
    with app.app_context():
        records = (
            db.session.query(AuditRecord)
            .filter_by(instance_id=case_id)
            .order_by(AuditRecord.seq)
            .all()
        )
        started, submitted = records[0], records[1]
        for record in (started, submitted):
            assert record.comment == "batch import of clients.xlsx"
            assert record.payload[texts.COMMENT_CODE] == "comment.batch_import"
            assert record.payload[texts.COMMENT_PARAMS] == {"file": "clients.xlsx"}
        withdrawn = records[-1]
        assert withdrawn.trigger == "withdraw" and texts.COMMENT_CODE not in (
            withdrawn.payload or {}
        )
        assert texts.comment_text(withdrawn.payload) is None
    for key, value in {
        "DATABASE_URL": db_url,
        "RISKLOOP_INSTANCE_PATH": str(tmp_path / "instance"),
        "RISKLOOP_EXTRA_DEFINITIONS": str(FIXTURES),
        "RISKLOOP_REGISTRIES": "tests.fixture_registry:registry",
        **TEST_KEYS,
    }.items():
        monkeypatch.setenv(key, value)
    verified = CliRunner().invoke(
        main, ["audit", "verify", "--no-progress"], catch_exceptions=False
    )
    assert verified.exit_code == 0, verified.output


def test_a_notification_stores_code_and_params_beside_its_english(app: Flask) -> None:
    from workflow.records.outbox import enqueue

    with app.app_context():
        enqueue(
            db.session,
            "notify",
            {
                "event": "contract_expiring",
                "users": ["risk1"],
                **texts.notification(
                    "contract.expiring", number="HT 1", client="Acme", end="2027-01-31"
                ),
            },
        )
        enqueue(db.session, "notify", {"event": "info", "users": ["risk1"], "title": "plain words"})
        db.session.commit()
    drain(app)
    with app.app_context():
        coded = db.session.query(Notification).filter_by(event="contract_expiring").one()
        assert coded.title == "Contract HT 1 of Acme ends on 2027-01-31"
        assert (coded.code, coded.params) == (
            "contract.expiring",
            {"number": "HT 1", "client": "Acme", "end": "2027-01-31"},
        )
        plain = db.session.query(Notification).filter_by(event="info").one()
        assert (plain.title, plain.code, plain.params) == ("plain words", None, None)
