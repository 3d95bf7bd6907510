"""Natural persons as clients (PIPL): a sales user enters one, a wrong check
character is refused on the field, the access log finds every read of it, legal exports
everything held about the person, and the owner sees the contacts others see masked."""

from __future__ import annotations

from flask import Flask
from sqlalchemy import text

from api.extensions import db
from tests.support.app import Api
from tests.support.client_imports import upload
from tests.support.persons import id_number, person_body, wrong_check


def create_person(api: Api, n: int = 1, owner: str = "sales1", **extra: object) -> dict:
    r = api.post(owner, "/api/v1/clients", json=person_body(n, **extra))
    assert r.status_code == 201, r.get_json()
    return r.get_json()


def reads_of(api: Api, client_id: int, user: str = "auditor1", **query: str) -> list[dict]:
    params = "&".join(f"{k}={v}" for k, v in {"client_id": client_id, **query}.items())
    r = api.get(user, f"/api/v1/audit/reads?{params}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()["items"]


def test_a_sales_user_enters_a_natural_person_without_a_credit_code(app: Flask, api: Api) -> None:
    person = create_person(api)
    assert person["client_type"] == "natural_person"
    assert person["credit_code"] is None
    assert person["consent_basis"] == "consent" and person["consent_at"] == "2026-11-30"
    # sales never see identity numbers, not even their own client's
    assert person["id_number"] == "110***********" + id_number(1)[-4:]
    full = api.get("risk1", f"/api/v1/clients/{person['id']}").get_json()
    assert full["id_number"] == id_number(1)
    with app.app_context():
        raw = db.session.execute(
            text("SELECT id_number FROM clients WHERE id = :id"), {"id": person["id"]}
        ).scalar_one()
        assert raw.startswith("gAAAAA") and id_number(1) not in raw


def test_a_wrong_check_character_is_422_naming_the_field(module_api: Api) -> None:
    r = module_api.post(
        "sales1", "/api/v1/clients", json=person_body(2, id_number=wrong_check(id_number(2)))
    )
    assert r.status_code == 422
    problem = r.get_json()
    assert list(problem["errors"]) == ["id_number"]
    assert "check character" in problem["errors"]["id_number"][0]


def test_a_person_needs_an_id_number_and_consent_and_no_credit_code(module_api: Api) -> None:
    bare = {"client_type": "natural_person", "name": "王五"}
    r = module_api.post("sales1", "/api/v1/clients", json=bare)
    assert r.status_code == 422
    assert set(r.get_json()["errors"]) == {"id_number", "consent_basis", "consent_at"}
    r = module_api.post("sales1", "/api/v1/clients", json=person_body(3, consent_basis="because"))
    assert r.status_code == 422 and list(r.get_json()["errors"]) == ["consent_basis"]
    # an enterprise still needs its credit code
    r = module_api.post("sales1", "/api/v1/clients", json={"name": "某某有限公司"})
    assert r.status_code == 422 and list(r.get_json()["errors"]) == ["credit_code"]


def test_the_same_person_twice_is_a_duplicate(api: Api) -> None:
    first = create_person(api, 4)
    r = api.post("sales2", "/api/v1/clients", json=person_body(4, name="另一个名字"))
    assert r.status_code == 409
    assert r.get_json()["existing_id"] == first["id"]


def test_a_person_may_be_corrected_before_screening_but_consent_stays_required(
    api: Api,
) -> None:
    person = create_person(api, 5)
    path = f"/api/v1/clients/{person['id']}"
    r = api.patch("sales1", path, json={"id_number": id_number(6)})
    assert r.status_code == 200, r.get_json()
    r = api.patch("sales1", path, json={"consent_basis": None})
    assert r.status_code == 422 and list(r.get_json()["errors"]) == ["consent_basis"]
    r = api.patch("sales1", path, json={"id_number": wrong_check(id_number(6))})
    assert r.status_code == 422 and list(r.get_json()["errors"]) == ["id_number"]


def test_the_owner_sees_contacts_in_full_and_other_roles_as_before(api: Api) -> None:
    person = create_person(api, 7)
    own = api.get("sales1", f"/api/v1/clients/{person['id']}").get_json()
    assert own["contacts"][0]["phone"] == "13912345678"
    assert own["contacts"][0]["email"] == "zhang@example.com"
    assert own["bank_account"] == "**** **** **** 9999"
    listed = api.get("sales1", "/api/v1/clients?client_type=natural_person").get_json()["items"]
    assert [c["contacts"][0]["phone"] for c in listed if c["id"] == person["id"]] == ["13912345678"]
    assert api.get("sales2", f"/api/v1/clients/{person['id']}").status_code == 404
    assert (
        api.get("legal1", f"/api/v1/clients/{person['id']}").get_json()["contacts"][0]["phone"]
        == "13912345678"
    )


def test_the_access_log_finds_every_read_of_the_person(api: Api) -> None:
    person = create_person(api, 8)
    client_id = person["id"]
    api.get("sales1", f"/api/v1/clients/{client_id}")
    api.get("risk1", f"/api/v1/clients/{client_id}", environ_base={"REMOTE_ADDR": "10.1.2.3"})
    api.get("risk1", "/api/v1/clients?limit=5")
    api.get("legal1", f"/api/v1/clients/{client_id}/report")
    reads = reads_of(api, client_id)
    # newest first: the report, the list, the detail, the owner's detail, the creation
    assert [(r["username"], r["view"]) for r in reads] == [
        ("legal1", "report"),
        ("risk1", "list"),
        ("risk1", "detail"),
        ("sales1", "detail"),
        ("sales1", "detail"),
    ]
    assert all(r["channel"] == "api" for r in reads)
    risk_detail = reads[2]
    assert risk_detail["source"] == "10.1.2.3"
    assert risk_detail["fields"] == {
        str(client_id): ["bank_account", "contacts.phone", "id_number"]
    }
    # the owner read the contacts in full, nothing else
    assert reads[3]["fields"] == {str(client_id): ["contacts.phone"]}
    # one row per list read, naming every client it showed
    assert client_id in reads[1]["client_ids"] and len(reads[1]["client_ids"]) <= 5
    # filters by user and by time
    assert [r["view"] for r in reads_of(api, client_id, username="legal1")] == ["report"]
    assert reads_of(api, client_id, since="2099-01-01T00:00:00Z") == []
    # managers search the log too; searching it reads no client record
    assert reads_of(api, client_id, user="manager1") == reads


def test_the_access_log_pages_with_a_cursor(api: Api) -> None:
    person = create_person(api, 9)
    for _ in range(3):
        api.get("risk1", f"/api/v1/clients/{person['id']}")
    first = api.get("auditor1", f"/api/v1/audit/reads?client_id={person['id']}&limit=2").get_json()
    assert len(first["items"]) == 2 and first["next_cursor"]
    rest = api.get(
        "auditor1",
        f"/api/v1/audit/reads?client_id={person['id']}&limit=2&cursor={first['next_cursor']}",
    ).get_json()
    assert len(rest["items"]) == 2 and rest["next_cursor"] is None
    ids = [r["id"] for r in first["items"] + rest["items"]]
    assert ids == sorted(ids, reverse=True)


def test_only_auditors_and_managers_search_reads(module_api: Api) -> None:
    for user in ("sales1", "risk1", "legal1", "admin"):
        assert module_api.get(user, "/api/v1/audit/reads").status_code == 403
    # roles before the query: a refused caller is told 403 whatever it asks
    assert module_api.get("sales1", "/api/v1/audit/reads?client_id=x").status_code == 403
    assert module_api.get("auditor1", "/api/v1/audit/reads?client_id=x").status_code == 422


def test_legal_exports_everything_held_about_the_person(api: Api) -> None:
    person = create_person(api, 10)
    client_id = person["id"]
    api.get("risk1", f"/api/v1/clients/{client_id}")
    r = api.get("legal1", f"/api/v1/clients/{client_id}/personal-data")
    assert r.status_code == 200, r.get_json()
    export = r.get_json()
    assert export["client_id"] == client_id and export["generated_by"] == "legal1"
    assert export["record"]["id_number"] == id_number(10)
    assert export["record"]["contacts"][0]["phone"] == "13912345678"
    assert export["consent"] == {"basis": "consent", "at": "2026-11-30"}
    assert [a["kind"] for a in export["audit"]] == ["client.created", "client.sensitive_read"]
    assert [(x["username"], x["view"]) for x in export["reads"]] == [
        ("sales1", "detail"),
        ("risk1", "detail"),
    ]
    for key in ("contracts", "events", "alerts", "cases", "evidence", "tags", "ratings"):
        assert isinstance(export[key], list)
    # the export is itself a logged read, and an audit record
    assert reads_of(api, client_id)[0]["view"] == "personal_data"
    again = api.get("manager1", f"/api/v1/clients/{client_id}/personal-data").get_json()
    assert again["audit"][-1]["kind"] == "client.personal_data_exported"
    assert again["audit"][-1]["actor"] == "legal1"


def test_only_legal_and_managers_export_personal_data(api: Api) -> None:
    person = create_person(api, 11)
    for user in ("sales1", "risk1", "auditor1", "admin"):
        r = api.get(user, f"/api/v1/clients/{person['id']}/personal-data")
        assert r.status_code == 403, user
    assert api.get("legal1", "/api/v1/clients/999999/personal-data").status_code == 404


def csv_file(*lines: str) -> bytes:
    return ("\n".join(lines) + "\n").encode("utf-8")


def test_natural_persons_are_imported_and_matched_again_by_identity_number(api: Api) -> None:
    header = "client_type,name,id_number,consent_basis,consent_at,contact_name,contact_phone"
    rows = [
        f"natural_person,赵{n},{id_number(n)},contract,2026-10-01,赵{n},1390000000{n % 10}"
        for n in (31, 32)
    ]
    first = upload(api, "sales1", csv_file(header, *rows))
    assert first.status_code == 200, first.get_json()
    assert first.get_json()["created"] == 2
    again = upload(api, "sales1", csv_file(header, rows[0].replace("赵31,", "赵三十一,", 1)))
    assert again.status_code == 200, again.get_json()
    assert (again.get_json()["created"], again.get_json()["updated"]) == (0, 1)
    bad = upload(
        api,
        "sales1",
        csv_file(header, rows[1].replace(id_number(32), wrong_check(id_number(32)))),
        query="?dry_run=true",
    )
    assert bad.status_code == 200
    assert [(e["row"], e["field"]) for e in bad.get_json()["errors"]] == [(2, "id_number")]
