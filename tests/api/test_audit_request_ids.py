"""Every audit record made while serving a request carries that request's id,
including those written deep in the domain (unmasked reads, suspensions), and none is
carried over to work done outside a request."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from api.extensions import db
from tests.support.app import Api
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord
from workflow.risk.clients.creditcode import make_credit_code


def _client(api: Api, n: int) -> int:
    r = api.post(
        "sales1",
        "/api/v1/clients",
        headers={"X-Request-ID": f"create-{n}"},
        json={
            "name": f"请求编号客户 {n}",
            "credit_code": make_credit_code(f"9135020{n:010d}"),
            "registered_capital": 20_000_000,
            "ownership_type": "private",
            "bank_account": "6222020012345678",
            "contacts": [{"name": "李四", "phone": "13812341234", "email": "lisi@example.com"}],
        },
    )
    assert r.status_code == 201, r.get_json()
    return r.get_json()["id"]


def _records(app: Flask, stream: str) -> list[tuple[str, str | None]]:
    with app.app_context():
        return [
            (r.kind, r.request_id)
            for r in db.session.execute(
                select(AuditRecord).where(AuditRecord.stream == stream).order_by(AuditRecord.seq)
            ).scalars()
        ]


def test_an_unmasked_read_is_recorded_with_the_request_id_of_the_read(app: Flask, api: Api) -> None:
    cid = _client(api, 1)
    assert (
        api.get(
            "legal1", f"/api/v1/clients/{cid}", headers={"X-Request-ID": "read-legal-1"}
        ).status_code
        == 200
    )
    assert _records(app, f"client:{cid}") == [
        ("client.created", "create-1"),
        ("client.sensitive_read", "read-legal-1"),
    ]


def test_a_suspension_by_a_black_alert_carries_the_request_id_of_the_alert(
    app: Flask, api: Api
) -> None:
    cid = _client(api, 2)
    r = api.post(
        "risk1",
        "/api/v1/alerts",
        headers={"X-Request-ID": "black-alert-2"},
        json={
            "client_id": cid,
            "level": "black",
            "category": "negative_news",
            "title": "失信",
            "details": "列入失信被执行人",
            "source": "monitor",
            "external_id": "rid-2",
        },
    )
    assert r.status_code == 201, r.get_json()
    assert ("client.suspended", "black-alert-2") in _records(app, f"client:{cid}")
    with app.app_context():
        started = (
            db.session.execute(
                select(AuditRecord.request_id)
                .where(AuditRecord.instance_id == r.get_json()["id"])
                .order_by(AuditRecord.seq)
            )
            .scalars()
            .first()
        )
    assert started == "black-alert-2"  # as the alert's own records already were


def test_records_made_outside_a_request_carry_no_request_id(app: Flask, api: Api) -> None:
    api.get("risk1", "/api/v1/tasks", headers={"X-Request-ID": "an-earlier-request"})
    with app.app_context():
        audit.record_event(db.session, "test:outside", "test.event", Actor.system("test"))
        db.session.commit()
    assert _records(app, "test:outside") == [("test.event", None)]
