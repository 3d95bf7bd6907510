"""PIPL erasure by crypto-shredding (SQLite and PostgreSQL): an erasure request waits for
every other case on the client to end, a manager other than the requester approves it,
and afterwards the personal data is unreadable through the API, the change request's
values, the evidence store and the raw database row, while the audit trail verifies.
Also: master key rotation re-wraps the data keys, financial figures are ciphertext at
rest, and the retention job proposes erasures of long-offboarded clients."""

from __future__ import annotations

from datetime import timedelta
from decimal import Decimal
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select, text

from api.cli_clients import clients_retention
from api.extensions import db, runtime_of
from tests.support.app import Api, drain
from tests.support.due_diligence import checklist, open_case
from tests.support.evidence import upload
from workflow import texts
from workflow.audit.verification import verify_all
from workflow.platform import backup, clock
from workflow.platform.crypto import FieldCipher, attach_cipher, generate_key
from workflow.records.models import AuditRecord, Notification, WorkflowInstance
from workflow.records.trail import instance_stream
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.encryption import rotate_all
from workflow.risk.clients.model import Client, client_stream
from workflow.risk.due_diligence import evidence
from workflow.risk.erasure import RETENTION_JOB, placeholder_name, propose_erasures

PHONE = "13812341234"
EMAIL = "lisi@example.com"
ACCOUNT = "6222020012345678"
REPRESENTATIVE = "王建国"
CONTACT = "李四"


def create(api: Api, n: int, **extra: object) -> int:
    body = {
        "name": f"示例贸易有限公司 {n}",
        "credit_code": make_credit_code(f"9144010{n:010d}"),
        "legal_representative": REPRESENTATIVE,
        "registered_capital": 20_000_000,
        "ownership_type": "private",
        "contacts": [{"name": CONTACT, "phone": PHONE, "email": EMAIL}],
        "bank_account": ACCOUNT,
        **extra,
    }
    r = api.post("sales1", "/api/v1/clients", json=body)
    assert r.status_code == 201, r.get_json()
    return int(r.get_json()["id"])


def request(api: Api, client_id: int, who: str = "legal1"):  # noqa: ANN201
    return api.post(
        who, f"/api/v1/clients/{client_id}/erasure", json={"reason": "the person asked (PIPL)"}
    )


def passed_review_with_evidence(api: Api, client_id: int) -> tuple[int, str]:
    """A due-diligence case on the client with a file, decided (closed)."""
    case = open_case(api, client_id)["id"]
    assert api.act("risk1", case, "start").status_code == 200
    r = upload(api, "risk1", case)
    assert r.status_code == 201, r.get_json()
    sha = r.get_json()["sha256"]
    assert api.act("risk1", case, "submit_for_review", checklist=checklist()).status_code == 200
    r = api.act("risk2", case, "pass", comment="fine")
    assert r.status_code == 200, r.get_json()
    return case, sha


def raw_row(client_id: int) -> dict[str, object]:
    return dict(
        db.session.execute(text("SELECT * FROM clients WHERE id = :id"), {"id": client_id})
        .mappings()
        .one()
    )


def test_an_erasure_waits_for_open_cases_needs_a_manager_and_shreds_the_personal_data(
    app: Flask, api: Api
) -> None:
    client_id = create(api, 1)
    review, sha = passed_review_with_evidence(api, client_id)
    # an open change request (a case on the client) holds the erasure back
    change = api.post(
        "sales1",
        f"/api/v1/clients/{client_id}/change-requests",
        json={"changes": {"bank_account": "6228480099887766"}, "reason": "new account"},
    ).get_json()["id"]
    r = request(api, client_id)
    assert r.status_code == 409, r.get_json()
    assert r.get_json()["case_id"] == change and "open case" in r.get_json()["detail"]
    assert api.act("sales1", change, "cancel").status_code == 200

    # who may ask: legal and managers, never sales (the role is checked before the body)
    assert request(api, client_id, "sales1").status_code == 403
    assert api.post("sales1", f"/api/v1/clients/{client_id}/erasure", json={}).status_code == 403
    r = api.post("legal1", f"/api/v1/clients/{client_id}/erasure", json={"reason": ""})
    assert r.status_code == 422 and "reason" in r.get_json()["errors"], r.get_json()
    r = request(api, client_id)
    assert r.status_code == 201, r.get_json()
    case = r.get_json()
    assert (case["definition"], case["state"], case["subject_id"]) == (
        "erasure",
        "requested",
        client_id,
    )
    # a second request for the same client is a duplicate
    r = request(api, client_id, "manager1")
    assert r.status_code == 409 and r.get_json()["existing_id"] == case["id"], r.get_json()
    # the requester never approves; a manager does
    assert api.act("legal1", case["id"], "approve").status_code == 403
    inbox = api.get("manager1", "/api/v1/tasks").get_json()["items"]
    assert case["id"] in [item["id"] for item in inbox]
    with app.app_context():  # what the notify task left in a reviewer's inbox about the client
        worded = texts.notification("review.due", client="示例贸易有限公司 1", case=review)
        db.session.add(
            Notification(username="risk2", event="due_diligence_due", instance_id=review, **worded)
        )
        db.session.commit()
    r = api.act("manager1", case["id"], "approve", comment="checked the request")
    assert r.status_code == 200 and r.get_json()["to_state"] == "erased", r.get_json()
    assert drain(app) >= 1  # the evidence files go after commit

    # the API: erased, with the time; the personal fields are gone for every role
    view = api.get("risk1", f"/api/v1/clients/{client_id}").get_json()
    assert view["erased_at"] is not None and view["name"] == placeholder_name(client_id)
    for field in ("legal_representative", "id_number", "contacts", "bank_account"):
        assert view[field] is None, field
    assert view["registered_capital"] == 20_000_000  # an enterprise's figures are not personal
    # the change request's values, sealed with the destroyed key, read as nothing
    values = api.get("risk1", f"/api/v1/clients/{client_id}/change-requests/{change}/values")
    assert values.get_json()["changes"]["bank_account"] == {"before": None, "after": None}
    # cases name the client by reference: the placeholder now
    review_view = api.get("risk1", f"/api/v1/workflows/{review}").get_json()
    assert review_view["data"]["client_name"] == placeholder_name(client_id)
    # the evidence is gone from the store and refused with a reason
    r = api.get("risk1", f"/api/v1/workflows/{review}/evidence/{sha}")
    assert r.status_code == 404 and "erased" in r.get_json()["detail"], r.get_json()
    assert not (Path(app.config["RISKLOOP_EVIDENCE_DIR"]) / sha[:2] / sha).exists()
    # nothing more is written about the person
    r = api.patch("risk1", f"/api/v1/clients/{client_id}", json={"industry": "retail"})
    assert r.status_code == 409 and "was erased" in r.get_json()["detail"], r.get_json()
    r = api.post(
        "risk1",
        f"/api/v1/clients/{client_id}/events",
        json={"type": "litigation", "title": "a new lawsuit", "source": "test"},
    )
    assert r.status_code == 409 and "was erased" in r.get_json()["detail"], r.get_json()
    assert request(api, client_id, "manager1").status_code == 409
    alert = {"client_id": client_id, "level": "red", "category": "litigation", "title": "sued"}
    r = api.post("risk1", "/api/v1/alerts", json=alert)
    assert r.status_code == 409 and "was erased" in r.get_json()["detail"], r.get_json()

    with app.app_context():
        row = raw_row(client_id)
        assert row["data_key"] is None and row["erased_at"] is not None
        assert [row[f] for f in ("legal_representative", "id_number", "contacts")] == [None] * 3
        assert row["bank_account"] is None
        assert row["name"] == placeholder_name(client_id)
        trail = " ".join(
            str(p)
            for p in db.session.execute(
                select(AuditRecord.payload).where(
                    AuditRecord.stream.in_(
                        [
                            client_stream(client_id),
                            *(instance_stream(i) for i in (change, review, case["id"])),
                        ]
                    )
                )
            ).scalars()
        )
        assert len(trail) > 1000  # the streams were found: creation, cases, evidence, erasure
        instance_data = " ".join(
            str(db.session.get(WorkflowInstance, i).data)  # type: ignore[union-attr]
            for i in (change, review, case["id"])
        )
        for secret in (REPRESENTATIVE, CONTACT, EMAIL, "示例贸易有限公司 1", "6228480099887766"):
            assert secret not in trail and secret not in instance_data, secret
        assert "sealed" in trail  # the copies are there, as unreadable tokens
        note = db.session.execute(
            select(Notification).where(Notification.instance_id == review)
        ).scalar_one()
        assert "示例贸易有限公司 1" not in f"{note.title} {note.body} {note.params}"
        assert note.params["client"] == placeholder_name(client_id)
        erased = db.session.execute(
            select(AuditRecord).where(
                AuditRecord.stream == client_stream(client_id), AuditRecord.kind == "client.erased"
            )
        ).scalar_one()
        assert erased.payload["requested_by"] == "legal1"
        assert erased.payload["approved_by"] == "manager1"
        assert erased.actor == "manager1"
        # the hashes cover the tokens: the trail still verifies, evidence included
        assert verify_all(db.session).ok
        assert evidence.verify_evidence(db.session) == []
    r = api.get("auditor1", "/api/v1/audit/verify")
    assert r.status_code == 200 and r.get_json()["ok"] is True, r.get_json()


def test_an_approval_is_refused_while_a_case_opened_after_the_request_is_open(
    app: Flask, api: Api
) -> None:
    client_id = create(api, 2)
    case = request(api, client_id).get_json()["id"]
    review = open_case(api, client_id)["id"]
    r = api.act("manager1", case, "approve")
    assert r.status_code == 409 and r.get_json()["case_id"] == review, r.get_json()
    assert api.get("risk1", f"/api/v1/clients/{client_id}").get_json()["erased_at"] is None
    assert api.act("risk1", review, "start").status_code == 200
    r = api.act("risk1", review, "submit_for_review", checklist=checklist())
    assert r.status_code == 200
    assert api.act("risk2", review, "fail", comment="no").status_code == 200
    assert api.act("manager1", case, "approve").status_code == 200


def test_personal_and_financial_fields_are_ciphertext_at_rest(app: Flask, api: Api) -> None:
    client_id = create(api, 3)
    with app.app_context():
        row = raw_row(client_id)
        for column in ("legal_representative", "contacts", "bank_account", "data_key"):
            assert str(row[column]).startswith("gAAAAA"), column
        for column in ("registered_capital", "credit_limit"):
            assert row[column] is None or str(row[column]).startswith("gAAAAA"), column
        assert str(row["registered_capital"]).startswith("gAAAAA")
        client = db.session.get(Client, client_id)
        assert client is not None
        assert client.registered_capital == Decimal("20000000.00")
        assert client.legal_representative == REPRESENTATIVE
        assert REPRESENTATIVE not in str(row) and PHONE not in str(row)


def test_rotating_the_master_keys_rewraps_the_data_keys(app: Flask, api: Api) -> None:
    client_id = create(api, 4)
    old = app.config["RISKLOOP_ENCRYPTION_KEYS"]
    new = generate_key()
    with app.app_context():
        before = raw_row(client_id)["data_key"]
        attach_cipher(db.engine, FieldCipher([new, old]))
        rewritten = rotate_all(db.session)
        assert rewritten["clients.data_key"] >= 1
        assert raw_row(client_id)["data_key"] != before
        # only the new key from now on: every sealed field still opens
        attach_cipher(db.engine, FieldCipher([new]))
        db.session.expunge_all()
        client = db.session.get(Client, client_id)
        assert client is not None
        assert client.legal_representative == REPRESENTATIVE
        assert client.contacts == [{"name": CONTACT, "phone": PHONE, "email": EMAIL}]
        assert client.bank_account == ACCOUNT
        assert client.registered_capital == Decimal("20000000.00")
        db.session.rollback()
        attach_cipher(db.engine, runtime_of(app).cipher)  # type: ignore[arg-type]


def test_the_retention_job_proposes_erasures_of_long_offboarded_clients(
    app: Flask, api: Api
) -> None:
    long_gone, recent, still_active = create(api, 5), create(api, 6), create(api, 7)
    now = clock.now()
    with app.app_context():
        for client_id, offboarded in ((long_gone, now - timedelta(days=6 * 366)), (recent, now)):
            client = db.session.get(Client, client_id)
            assert client is not None
            client.status = "offboarded"
            assert client.offboarded_at is not None  # stamped by the status change
            client.offboarded_at = offboarded
        db.session.commit()
        assert runtime_of(app).catalog.registry.jobs[RETENTION_JOB]
        proposed = propose_erasures(db.session, now)
        db.session.commit()
        assert [(p.subject_id, p.created_by) for p in proposed] == [
            (long_gone, "system:erasure_retention")
        ]
        case = proposed[0].id
        # the next day's run proposes nothing new: one request is open
        assert propose_erasures(db.session, now + timedelta(days=1)) == []
        db.session.commit()
    inbox = api.get("manager1", "/api/v1/tasks").get_json()["items"]
    assert case in [item["id"] for item in inbox]
    # the command line runs the same scan: nothing new to propose
    result = app.test_cli_runner().invoke(clients_retention)
    assert result.exit_code == 0 and "0 erasure request(s) proposed" in result.output, result.output
    assert api.act("manager1", case, "approve").status_code == 200
    assert api.get("risk1", f"/api/v1/clients/{long_gone}").get_json()["erased_at"]
    for kept in (recent, still_active):
        assert api.get("risk1", f"/api/v1/clients/{kept}").get_json()["erased_at"] is None


# SQLite only: PostgreSQL backups are pg_dump snapshots, which never dump dead rows.
@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_backup_made_after_an_erasure_holds_no_trace_of_the_data_key(
    app: Flask, api: Api, tmp_path: Path
) -> None:
    """SQLite: the page that held the wrapped key is overwritten (secure_delete), so an online
    backup (a page-by-page copy) has neither the wrapped key nor the plaintext."""
    client_id = create(api, 8)
    with app.app_context():
        wrapped = str(raw_row(client_id)["data_key"])
        sealed = str(raw_row(client_id)["bank_account"])
    case = request(api, client_id).get_json()["id"]
    assert api.act("manager1", case, "approve").status_code == 200
    with app.app_context():
        copy = backup.backup(app.config["DATABASE_URL"], tmp_path / "backups")
    content = copy.read_bytes()
    assert wrapped.encode() not in content and sealed.encode() not in content
    assert REPRESENTATIVE.encode() not in content and ACCOUNT.encode() not in content
    assert placeholder_name(client_id).encode() in content  # the copy is of the erased row
