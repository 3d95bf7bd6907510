"""The digest's hour comes from RISKLOOP_DIGEST_AT, and the digest reaches each owner by
mail in their language (chosen in the console, else RISKLOOP_LANGUAGE) with client names
and the cases' states worded."""

from __future__ import annotations

import email
import email.policy
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from api.extensions import db, runtime_of
from tests.support.alerts import alert_body, make_client
from tests.support.app import drain, make_app
from tests.support.mail import smtp_server
from tests.support.services import free_port
from workflow.background import scheduler as scheduling
from workflow.errors import ConfigurationError
from workflow.platform import clock
from workflow.records.models import Timer, User
from workflow.risk.clients.model import Client
from workflow.risk.notify.digest import send_digests

pytestmark = pytest.mark.usefixtures("webhook_secret")  # alert intake is open

# Monday 2026-11-23 12:00 in Shanghai (04:00 UTC).
NOON = datetime(2026, 11, 23, 4, 0)


def test_the_digest_is_armed_at_the_configured_time_of_day(db_url, tmp_path, monkeypatch):
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(db_url, tmp_path, RISKLOOP_DIGEST_AT="08:30")
    rt = runtime_of(app)
    try:
        clock.freeze(NOON)
        scheduling.tick(rt.session_factory, rt.catalog.registry, rt.settings)
        with app.app_context():
            armed = list(
                db.session.execute(
                    select(Timer.due_at).where(Timer.job == "alert_digest")
                ).scalars()
            )
        # 08:30 in Shanghai the next morning is 00:30 UTC
        assert armed == [datetime(2026, 11, 24, 0, 30)]
    finally:
        clock.freeze(None)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()


@pytest.mark.parametrize("value", ["9pm", "24:00", "21"])
def test_a_digest_time_that_is_no_time_of_day_stops_start_up(sqlite_url, tmp_path, value):
    with pytest.raises(ConfigurationError) as refused:
        make_app(sqlite_url, tmp_path, RISKLOOP_DIGEST_AT=value)

    assert "RISKLOOP_DIGEST_AT" in refused.value.detail and "HH:MM" in refused.value.detail


def mails_by_recipient(inbox) -> dict[str, tuple[str, str]]:
    found = {}
    for recipients, content in inbox.messages:
        message = email.message_from_bytes(content.encode(), policy=email.policy.default)
        found[recipients[0]] = (str(message["Subject"]), message.get_content())
    return found


def test_each_owner_gets_the_digest_by_mail_in_their_language(
    app, api, monkeypatch: pytest.MonkeyPatch
):
    with app.app_context():
        for user in db.session.execute(select(User)).scalars():
            user.email = f"{user.username}@bank.example"
        english = db.session.execute(select(User).where(User.username == "sales2")).scalar_one()
        english.language = "en"  # chosen in the console; sales1 never chose (zh-CN)
        db.session.commit()
    mine = make_client(app, owner="sales1")
    theirs = make_client(app, owner="sales2")
    for cid in (mine, theirs):
        body = alert_body(cid, level="yellow", title="工商变更")
        assert api.post("risk1", "/api/v1/alerts", json=body).status_code == 201
    drain(app)
    with app.app_context():
        names = {c.id: c.name for c in db.session.execute(select(Client)).scalars()}

    port = free_port()  # mail from here on: the digest only
    monkeypatch.setenv("RISKLOOP_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("RISKLOOP_SMTP_PORT", str(port))
    with smtp_server(port) as inbox:
        with app.app_context():
            sent = send_digests(db.session, clock.now() + timedelta(minutes=1))
            db.session.commit()
        assert {"sales1", "sales2"} <= set(sent)
        drain(app)
    mails = mails_by_recipient(inbox)

    subject, body = mails["sales1@bank.example"]
    assert subject.startswith("预警日报")
    assert f"（客户 {names[mine]}，已预警，" in body and "【黄色】" in body
    subject, body = mails["sales2@bank.example"]
    assert subject.startswith("Alert digest")
    assert f"(client {names[theirs]}, Warned, " in body and "[Yellow]" in body


def test_a_digest_setting_is_read_from_the_environment(tmp_path: Path, monkeypatch, sqlite_url):
    monkeypatch.setenv("RISKLOOP_DIGEST_AT", "07:05")
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(sqlite_url, tmp_path)
    try:
        assert (
            scheduling.resolve_cron(
                runtime_of(app).registry.jobs["alert_digest"][1], runtime_of(app).settings
            )
            == "5 7 * * *"
        )
    finally:
        with app.app_context():
            db.engine.dispose()
