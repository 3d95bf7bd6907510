"""Notification channels against real local servers: SMTP (aiosmtpd) and a signed webhook
(http.server). A server that is down delays delivery and blocks nothing."""

from __future__ import annotations

import json
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

import pytest
from aiosmtpd.controller import Controller
from sqlalchemy import select

from api.extensions import db, runtime_of
from tests.support.alerts import alert_body, make_client
from tests.support.mail import Inbox
from tests.support.services import free_port
from workflow.background import runner as tasks
from workflow.records.models import Notification, OutboxMessage, User
from workflow.risk.alerts.webhook import sign

pytestmark = pytest.mark.usefixtures("webhook_secret")  # alert intake is open


def run_outbox(app, rounds: int = 50) -> None:
    rt = runtime_of(app)
    with app.app_context():
        tasks.drain(rt.session_factory, rt.catalog.registry, rounds=rounds)


@pytest.fixture
def smtp_env(app, monkeypatch: pytest.MonkeyPatch) -> int:
    port = free_port()
    monkeypatch.setenv("RISKLOOP_SMTP_HOST", "127.0.0.1")
    monkeypatch.setenv("RISKLOOP_SMTP_PORT", str(port))
    monkeypatch.setenv("RISKLOOP_SMTP_FROM", "riskloop@bank.example")
    with app.app_context():
        for user in db.session.execute(select(User)).scalars():
            user.email = f"{user.username}@bank.example"
        db.session.commit()
    return port


def test_an_alert_mail_is_received_by_a_real_smtp_server(app, api, smtp_env):
    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_env)
    controller.start()
    try:
        cid = make_client(app, owner="sales1")
        assert (
            api.post("risk1", "/api/v1/alerts", json=alert_body(cid, title="客户涉诉")).status_code
            == 201
        )
        run_outbox(app)
    finally:
        controller.stop()
    recipients = sorted(r for rcpts, _ in inbox.messages for r in rcpts)
    assert recipients == ["risk1@bank.example", "risk2@bank.example", "sales1@bank.example"]
    content = inbox.messages[0][1]
    assert "From: riskloop@bank.example" in content and "X-Riskloop-Event: alert_raised" in content
    assert "Subject:" in content


def test_a_smtp_server_that_is_down_delays_mail_without_blocking_the_loop_or_in_app(
    app, api, smtp_env
):
    cid = make_client(app, owner="sales1")
    case = api.post("risk1", "/api/v1/alerts", json=alert_body(cid)).get_json()["id"]
    run_outbox(app, rounds=2)  # notify, then a first e-mail attempt against a closed port
    with app.app_context():
        mails = list(
            db.session.execute(
                select(OutboxMessage).where(OutboxMessage.task == "send_email")
            ).scalars()
        )
        assert len(mails) == 3
        assert {(m.status, m.attempts) for m in mails} == {("pending", 1)}
        assert "ConnectionRefusedError" in (mails[0].last_error or "")
        assert db.session.execute(
            select(Notification).where(Notification.username == "sales1")
        ).first()
    assert api.act("sales1", case, "respond", assessment="a", plan="p").status_code == 200

    inbox = Inbox()
    controller = Controller(inbox, hostname="127.0.0.1", port=smtp_env)
    controller.start()
    try:
        run_outbox(app)
    finally:
        controller.stop()
    assert len(inbox.messages) == 3
    with app.app_context():
        statuses = db.session.execute(
            select(OutboxMessage.status).where(OutboxMessage.task == "send_email")
        ).scalars()
        assert set(statuses) == {"done"}


class Receiver(BaseHTTPRequestHandler):
    received: list[tuple[dict[str, str], bytes]] = []
    fail_first = 0

    def do_POST(self) -> None:  # noqa: N802
        body = self.rfile.read(int(self.headers["Content-Length"]))
        if Receiver.fail_first > 0:
            Receiver.fail_first -= 1
            self.send_response(503)
        else:
            Receiver.received.append((dict(self.headers), body))
            self.send_response(204)
        self.end_headers()

    def log_message(self, *args: Any) -> None:
        return


def test_notifications_are_posted_signed_to_the_webhook_and_retried_after_an_error(
    app, api, monkeypatch
):
    server = ThreadingHTTPServer(("127.0.0.1", 0), Receiver)
    Receiver.received, Receiver.fail_first = [], 1
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    monkeypatch.setenv("RISKLOOP_NOTIFY_WEBHOOK_URL", f"http://127.0.0.1:{server.server_port}/hook")
    monkeypatch.setenv("RISKLOOP_NOTIFY_WEBHOOK_SECRET", "chat-secret")
    try:
        cid = make_client(app)
        case = api.post("risk1", "/api/v1/alerts", json=alert_body(cid, level="black")).get_json()[
            "id"
        ]
        run_outbox(app)
    finally:
        server.shutdown()
        server.server_close()
    assert len(Receiver.received) == 1  # the 503 was retried, then delivered once
    headers, body = Receiver.received[0]
    assert headers["X-Riskloop-Signature"] == sign(
        "chat-secret", headers["X-Riskloop-Timestamp"], body
    )
    payload = json.loads(body)
    assert payload["event"] == "alert_raised" and payload["instance_id"] == case
    assert "manager1" in payload["recipients"]
    with app.app_context():
        hook = db.session.execute(
            select(OutboxMessage).where(OutboxMessage.task == "send_webhook")
        ).scalar_one()
        assert (hook.status, hook.attempts) == ("done", 2)
