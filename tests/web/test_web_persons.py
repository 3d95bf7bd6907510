"""Natural persons in the console: entered on the new-client form (a wrong check character
is refused beside the field), shown with their type and consent, every view of them
logged with the console's address, and the access log searched by auditors and managers."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import select

from api.extensions import db
from tests.support.persons import id_number, person_body, wrong_check
from workflow.records.models import AuditRecord
from workflow.risk.clients.model import Client
from workflow.risk.privacy.reads import ClientRead

ADDRESS = {"REMOTE_ADDR": "192.0.2.7"}


def person_form(n: int = 1, **extra: str) -> dict[str, str]:
    body = person_body(n)
    contact = body["contacts"][0]
    form = {
        k: body[k]
        for k in ("client_type", "name", "id_number", "consent_basis", "consent_at", "region")
    }
    form |= {f"contact_{k}": contact[k] for k in ("name", "phone", "email")}
    return {**form, "bank_account": body["bank_account"], "submit_for_admission": "0", **extra}


def person_row(app: Flask, number: str) -> Client | None:
    with app.app_context():
        rows = db.session.execute(
            select(Client).where(Client.client_type == "natural_person")
        ).scalars()
        found = [c for c in rows if c.id_number == number]
        for c in found:
            db.session.expunge(c)
        return found[0] if found else None


def test_a_sales_user_enters_a_natural_person_on_the_form(console_factory, app: Flask) -> None:
    sales = console_factory("sales1")
    form_page = sales.get("/clients/new").get_data(as_text=True)
    assert 'name="client_type"' in form_page and "自然人" in form_page
    assert 'name="consent_basis"' in form_page and "个人同意" in form_page
    response = sales.post("/clients/new", person_form(21))
    assert response.status_code == 302, response.get_data(as_text=True)
    row = person_row(app, id_number(21))
    assert row is not None and row.credit_code is None and row.consent_basis == "consent"
    page = sales.get(response.headers["Location"]).get_data(as_text=True)
    assert "自然人" in page and "个人同意" in page
    assert id_number(21) not in page  # sales never see identity numbers
    assert "13912345678" in page  # the owner sees the contacts in full
    listed = sales.get("/clients?client_type=natural_person").get_data(as_text=True)
    assert "张21明" in listed and 'value="natural_person" selected' in listed
    assert "张21明" not in sales.get("/clients?client_type=enterprise").get_data(as_text=True)


def test_a_wrong_check_character_is_shown_beside_the_field(console_factory, app: Flask) -> None:
    sales = console_factory("sales1")
    response = sales.post("/clients/new", person_form(22, id_number=wrong_check(id_number(22))))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-error-for="id_number"' in page and "校验码" in page
    assert person_row(app, id_number(22)) is None


def test_a_person_without_consent_is_refused_on_the_consent_fields(console_factory) -> None:
    sales = console_factory("sales1")
    response = sales.post("/clients/new", person_form(23, consent_basis="", consent_at=""))
    assert response.status_code == 422
    page = response.get_data(as_text=True)
    assert 'data-error-for="consent_basis"' in page and 'data-error-for="consent_at"' in page


def test_every_console_view_is_logged_and_found_by_the_auditor(console_factory, app: Flask) -> None:
    sales = console_factory("sales1")
    location = sales.post("/clients/new", person_form(24)).headers["Location"]
    client_id = int(location.rstrip("/").split("/")[-1])
    risk = console_factory("risk1")
    assert risk.get(location, environ_base=ADDRESS).status_code == 200
    assert risk.get("/clients", environ_base=ADDRESS).status_code == 200
    assert sales.get(f"/clients/{client_id}/edit").status_code == 200
    with app.app_context():
        reads = db.session.execute(select(ClientRead).order_by(ClientRead.id)).scalars().all()
        mine = [r for r in reads if client_id in r.client_ids]
        assert [(r.username, r.channel, r.view) for r in mine] == [
            ("risk1", "console", "detail"),
            ("risk1", "console", "list"),
            ("sales1", "console", "edit"),
        ]
        assert mine[0].source == "192.0.2.7"
        assert mine[0].fields == {str(client_id): ["bank_account", "contacts.phone", "id_number"]}
    auditor = console_factory("auditor1")
    page = auditor.get(f"/audit/reads?client_id={client_id}").get_data(as_text=True)
    assert page.count("data-read=") == 3
    assert "192.0.2.7" in page and "控制台" in page and "详情" in page and "身份证" not in page
    assert "证件号码" in page  # the unmasked fields, in words
    only_sales = auditor.get(f"/audit/reads?client_id={client_id}&username=sales1")
    assert only_sales.get_data(as_text=True).count("data-read=") == 1
    manager = console_factory("manager1")
    assert manager.get(f"/audit/reads?client_id={client_id}").status_code == 200
    assert 'href="/audit/reads"' in manager.get("/audit").get_data(as_text=True)
    assert console_factory("sales1").get("/audit/reads").status_code == 403
    bad = auditor.get("/audit/reads?client_id=abc")
    assert bad.status_code == 422


def test_a_console_sign_in_records_the_address(console_factory, app: Flask) -> None:
    console = console_factory()
    console.client.environ_base.update(ADDRESS)
    assert console.login("legal1").status_code == 302
    with app.app_context():
        record = (
            db.session.execute(
                select(AuditRecord)
                .where(AuditRecord.kind == "login.succeeded", AuditRecord.actor == "legal1")
                .order_by(AuditRecord.id.desc())
            )
            .scalars()
            .first()
        )
        assert record is not None
        assert (record.payload["channel"], record.payload["source"]) == ("console", "192.0.2.7")


def test_the_risk_report_of_a_person_names_the_identity_number(console_factory, app: Flask) -> None:
    sales = console_factory("sales1")
    location = sales.post("/clients/new", person_form(25)).headers["Location"]
    client_id = int(location.rstrip("/").split("/")[-1])
    risk = console_factory("risk1")
    page = risk.get(f"/clients/{client_id}/report?format=html").get_data(as_text=True)
    assert "自然人" in page and id_number(25) in page and "None" not in page
    with app.app_context():
        [read] = [
            r
            for r in db.session.execute(select(ClientRead)).scalars()
            if client_id in r.client_ids and r.username == "risk1"
        ]
        assert (read.channel, read.view) == ("console", "report")
