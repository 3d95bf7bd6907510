"""Onboarding paths that need more than the default set-up: a data provider that fails,
and the C path through due diligence into the dual approval."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from api.extensions import db
from tests.support.app import Api, lent_without_sender, make_app
from tests.support.onboarding import (
    A_FACTS,
    C_FACTS,
    admit,
    client_row,
    new_client,
    through_due_diligence,
)
from tests.support.providers import FakeService
from workflow.records.models import AuditRecord, Incident
from workflow.risk.clients.model import client_stream

CHECKLIST = {
    key: {"finding": "fine", "risk": "medium"}
    for key in ("basic_info", "financials", "reputation", "legal_records", "compliance")
}


@pytest.fixture
def service() -> Iterator[FakeService]:
    fake = FakeService()
    yield fake
    fake.close()


@pytest.fixture
def provider_app(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, service: FakeService
) -> Iterator[Flask]:
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = make_app(
        db_url,
        tmp_path,
        RISKLOOP_SCREENING_PROVIDERS="watchlist,http",
        RISKLOOP_PROVIDER_URL=service.url,
        RISKLOOP_PROVIDER_RETRIES="0",
    )
    with lent_without_sender(app):
        yield app


@pytest.fixture
def papi(provider_app: Flask) -> Api:
    return Api(provider_app.test_client())


def audit_kinds(app: Flask, streams: list[str]) -> list[tuple[str, str | None]]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditRecord.kind, AuditRecord.trigger)
            .where(AuditRecord.stream.in_(streams))
            .order_by(AuditRecord.stream, AuditRecord.seq)
        ).all()
        db.session.remove()
    return [(r[0], r[1]) for r in rows]


def test_a_provider_that_stays_down_becomes_an_incident_never_a_decision(
    provider_app: Flask, papi: Api, service: FakeService
) -> None:
    service.answers += [(503, {}, 0.0)] * 10
    client_id = new_client(papi, 40, **A_FACTS)
    case = admit(provider_app, papi, client_id)
    assert case["state"] == "screening"  # neither approved nor rejected
    assert case["data"]["incidents"] == 1
    assert len(service.requests) == 5  # one lookup per attempt (drain() allows 5)
    with provider_app.app_context():
        incident = db.session.execute(
            select(Incident).where(Incident.instance_id == case["id"])
        ).scalar_one()
        assert incident.task == "screen_client" and "unavailable" in incident.error
    assert client_row(provider_app, client_id).status == "pending_admission"
    assert ("incident", None) in audit_kinds(provider_app, [f"workflow:{case['id']}"])


def test_a_provider_that_recovers_screens_once_without_duplicate_records(
    provider_app: Flask, papi: Api, service: FakeService
) -> None:
    service.answers += [(503, {}, 0.0), (200, {"litigation_count": 0}, 0.0)]
    client_id = new_client(papi, 41, **A_FACTS)
    case = admit(provider_app, papi, client_id)
    assert case["state"] == "risk_review"
    assert [c["provider"] for c in case["data"]["screening"]["checks"]] == ["watchlist", "http"]
    kinds = audit_kinds(provider_app, [f"workflow:{case['id']}", client_stream(client_id)])
    assert kinds.count(("transition", "screened")) == 1
    assert kinds.count(("client.screened", None)) == 1
    assert ("incident", None) not in kinds


def test_a_c_client_passes_due_diligence_then_needs_two_different_approvers(
    app: Flask, api: Api
) -> None:
    case = through_due_diligence(
        app, api, 42, "pass_with_conditions", conditions=["quarterly accounts"]
    )
    assert case["state"] == "dual_approval"
    assert case["data"]["due_diligence_outcome"]["conditions"] == ["quarterly accounts"]

    def offered(user: str) -> list[str]:
        return api.get(user, f"/api/v1/workflows/{case['id']}").get_json()["available_actions"]

    # the risk officer goes first: legal is not offered the approval yet, and is told why
    assert (offered("risk1"), offered("legal1")) == (["approve", "reject"], ["reject"])
    r = api.act("legal1", case["id"], "approve")
    assert r.status_code == 403 and r.get_json()["rule"] == "role", r.get_json()
    assert "risk_officer" in r.get_json()["detail"]
    assert api.act("risk1", case["id"], "approve").status_code == 200
    # neither the same person nor a second risk approval: the second is legal's or a manager's
    assert (offered("risk1"), offered("risk2"), offered("legal1")) == (
        ["reject"],
        ["reject"],
        ["approve", "reject"],
    )
    r = api.act("risk2", case["id"], "approve")
    assert r.status_code == 403 and "legal, manager" in r.get_json()["detail"], r.get_json()
    r = api.act("legal1", case["id"], "approve", comment="ok")
    assert r.status_code == 200 and r.get_json()["to_state"] == "approved"
    client = client_row(app, case["subject_id"])
    assert client.status == "active" and client.rating == "C"
    assert int(client.credit_limit) == 200_000  # 0.1 × 2 M


def test_a_c_client_failing_due_diligence_is_rejected_with_its_reasons(
    app: Flask, api: Api
) -> None:
    case = through_due_diligence(
        app, api, 43, "fail", comment="hidden debts", reasons=["undisclosed guarantees"]
    )
    assert case["state"] == "rejected"
    assert case["data"]["rejection_reasons"] == ["undisclosed guarantees"]
    assert client_row(app, case["subject_id"]).status == "rejected"


def test_withdrawing_during_due_diligence_cancels_the_review(app: Flask, api: Api) -> None:
    case = admit(app, api, new_client(api, 44, **C_FACTS))
    assert case["state"] == "due_diligence"
    child_id = case["data"]["due_diligence_id"]
    assert api.act("risk1", child_id, "start").status_code == 200
    r = api.act("sales1", case["id"], "withdraw", comment="client changed its mind")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["to_state"] == "withdrawn"
    child = api.get("risk1", f"/api/v1/workflows/{child_id}").get_json()
    assert (child["state"], child["is_open"]) == ("cancelled", False)
    assert client_row(app, case["subject_id"]).status == "prospect"
    assert api.act("risk1", child_id, "submit_for_review", checklist=CHECKLIST).status_code == 409
