"""A seeded world with one of each object the console shows, built through the real services
and the API: the demo clients and watch list (screened by the worker: an automatic admission,
a watch-list match, a due diligence), a client with a living risk picture and a contract, a
due diligence run to its end and one collecting evidence, an alert closed and one open,
a change request, a risk event, a configuration change drafted and backtested (awaiting
approval) and the notifications all of this sends."""

from __future__ import annotations

import io
from typing import Any

from flask import Flask

from api.extensions import db
from tests.support.alerts import alert_body
from tests.support.app import Api, drain
from tests.support.config_changes import active_content, draft, soe_threshold_70
from tests.support.due_diligence import checklist, open_case
from tests.support.evidence import PDF, upload
from tests.support.onboarding import C_FACTS, admit, new_client
from tests.support.portrait import portrait_client
from workflow.records.identity import Actor
from workflow.risk.clients import contracts
from workflow.risk.clients.demo import add_demo_clients


def _ok(response: Any, *codes: int) -> dict[str, Any]:
    assert response.status_code in (codes or (200, 201)), response.get_data(as_text=True)
    return dict(response.get_json() or {})


def _settle(app: Flask) -> None:
    for _ in range(10):
        if drain(app) == 0:
            return


def seed_world(app: Flask) -> dict[str, int]:
    """Build the world; the ids of its main objects."""
    api = Api(app.test_client())
    with app.app_context():
        add_demo_clients(db.session)
        db.session.commit()
    _settle(app)
    portrait = portrait_client(app)

    # A C-rated client through admission: its due diligence reviewed and passed.
    admission = admit(app, api, new_client(api, 901, industry="manufacturing", **C_FACTS))
    review = admission["data"]["due_diligence_id"]
    _ok(api.act("risk1", review, "start"))
    _ok(upload(api, "risk1", review))
    _ok(api.act("risk1", review, "submit_for_review", checklist=checklist()))
    _ok(api.act("risk2", review, "pass"))
    # An ad-hoc due diligence collecting evidence on the portrait client.
    collecting = open_case(api, portrait)["id"]
    _ok(api.act("risk1", collecting, "start"))
    _ok(upload(api, "risk1", collecting))

    # An alert run to closed, one left open.
    closed = _ok(api.post("risk1", "/api/v1/alerts", json=alert_body(portrait)))["id"]
    _ok(api.act("sales1", closed, "respond", assessment="逾期 30 天", plan="催收"))
    _ok(api.act("sales1", closed, "rectify", evidence="已回款"))
    _ok(api.act("risk2", closed, "review", comment="整改到位"))
    open_alert = _ok(
        api.post(
            "risk1",
            "/api/v1/alerts",
            json=alert_body(portrait, level="yellow", category="payment_overdue"),
        )
    )["id"]

    # A change request of the portrait client and a risk event on it.
    change = _ok(
        api.post(
            "sales1",
            f"/api/v1/clients/{portrait}/change-requests",
            json={"changes": {"credit_limit": "30000000"}, "reason": "新合同"},
        )
    )["id"]
    _ok(
        api.post(
            "risk1",
            f"/api/v1/clients/{portrait}/events",
            json={
                "type": "payment_overdue",
                "title": "货款逾期 45 天",
                "source": "finance",
                "external_id": "world-1",
                "data": {"amount": 1_800_000},
            },
        )
    )
    # The portrait client's contract with its signed file and a performance note.
    with app.app_context():
        risk = Actor("risk1", frozenset({"risk_officer"}))
        contracts.attach_file(
            db.session,
            portrait,
            "HT-2026-001",
            risk,
            io.BytesIO(PDF),
            filename="合同.pdf",
            content_type="application/pdf",
        )
        contracts.add_note(db.session, portrait, "HT-2026-001", risk, "首期货款按时到账")
        db.session.commit()
    # A configuration change of the rating rules, backtested by the worker, awaiting approval.
    config_change = _ok(
        draft(
            api,
            "rule_set",
            soe_threshold_70(active_content(api)["content"]),
            reason="央企白名单阈值调整为 70%",
        ),
        201,
    )["id"]
    _settle(app)
    state = _ok(api.get("risk1", f"/api/v1/workflows/{config_change}"))["state"]
    assert state == "awaiting_approval", state
    return {
        "portrait": portrait,
        "admission": admission["id"],
        "review": review,
        "collecting": collecting,
        "closed_alert": closed,
        "open_alert": open_alert,
        "change": change,
        "config_change": config_change,
    }
