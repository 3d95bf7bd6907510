"""Client services on SQLite and PostgreSQL: validation, ownership, sensitive fields,
masking per role, audited diffs and reads, encryption at rest."""

from __future__ import annotations

from decimal import Decimal

import pytest
from sqlalchemy import select, text
from sqlalchemy.orm import Session

from workflow.accounts import users as accounts
from workflow.errors import (
    Conflict,
    Duplicate,
    Forbidden,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from workflow.records.identity import Actor
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.model import Client
from workflow.risk.clients.service import (
    client_history,
    client_view,
    create_client,
    set_sensitive_fields,
    update_client,
)
from workflow.risk.clients.validation import validate_client_fields, validate_sensitive_change

SALES1 = Actor("sales1", frozenset({"sales"}))
SALES2 = Actor("sales2", frozenset({"sales"}))
RISK1 = Actor("risk1", frozenset({"risk_officer"}))
MANAGER = Actor("manager1", frozenset({"manager"}))
AUDITOR = Actor("auditor1", frozenset({"auditor"}))
CODE = make_credit_code("91350100M000100Y4")


@pytest.fixture
def users(session: Session) -> None:
    for name, roles in (("sales1", ["sales"]), ("sales2", ["sales"]), ("risk1", ["risk_officer"])):
        accounts.create_user(session, name, "a-long-password-1", roles, by=Actor.system("test"))
    session.commit()


def new_client(**extra: object) -> dict:
    return {
        "name": "厦门示例贸易有限公司",
        "credit_code": CODE,
        "registered_capital": 20_000_000,
        "ownership_type": "private",
        "state_ownership_pct": 0,
        "contacts": [{"name": "李四", "phone": "13812341234", "email": "lisi@example.com"}],
        "bank_account": "6222 0200 1234 5678",
        "legal_representative": "张三",
        **extra,
    }


def test_validation_reports_every_bad_field_at_once() -> None:
    bad = new_client(
        credit_code=CODE[:-1] + ("0" if CODE[-1] != "0" else "1"),
        registered_capital=-5,
        state_ownership_pct=120,
        rating="E",
        risk_level="extreme",
        bank_account="12",
        credit_limit=-1,
        contacts=[{"name": "x", "phone": "call me"}],
    )
    with pytest.raises(ValidationFailed) as caught:
        validate_client_fields(bad, partial=False)
    errors = caught.value.extra["errors"]
    assert set(errors) == {
        "credit_code",
        "registered_capital",
        "state_ownership_pct",
        "rating",
        "risk_level",
        "bank_account",
        "credit_limit",
        "contacts",
    }
    assert "check character" in errors["credit_code"][0]
    assert "phone" in errors["contacts"][0]


def test_validation_cleans_values_and_refuses_unknown_fields() -> None:
    cleaned = validate_client_fields(
        new_client(credit_code=CODE.lower(), tags=["b", "a", "a"]), partial=False
    )
    assert cleaned["credit_code"] == CODE
    assert cleaned["bank_account"] == "6222020012345678"
    assert cleaned["registered_capital"] == Decimal("20000000")
    assert cleaned["tags"] == ["a", "b"]
    with pytest.raises(ValidationFailed) as caught:
        validate_client_fields({"status": "active"}, partial=True)
    assert "status" in caught.value.extra["errors"]
    with pytest.raises(ValidationFailed):
        validate_client_fields({"name": "only a name"}, partial=False)


def test_sensitive_change_validation_covers_only_the_six_fields() -> None:
    assert validate_sensitive_change("credit_limit", "1000") == Decimal("1000")
    assert validate_sensitive_change("rating", "C") == "C"
    assert validate_sensitive_change("blacklisted", True) is True
    with pytest.raises(ValidationFailed):
        validate_sensitive_change("rating", "Z")
    with pytest.raises(ValidationFailed):
        validate_sensitive_change("name", "x")


def test_sales_create_their_own_clients_and_duplicates_are_refused(
    session: Session, users: None
) -> None:
    client = create_client(session, new_client(), SALES1)
    session.commit()
    assert (client.owner, client.status, client.version) == ("sales1", "prospect", 1)
    with pytest.raises(Duplicate):
        create_client(session, new_client(name="another"), SALES2)
    session.rollback()
    with pytest.raises(Forbidden):
        create_client(
            session,
            new_client(credit_code=make_credit_code("91110000100000001"), owner="sales2"),
            SALES1,
        )
    session.rollback()
    with pytest.raises(ValidationFailed) as caught:
        create_client(
            session,
            new_client(credit_code=make_credit_code("91110000100000002"), rating="A"),
            SALES1,
        )
    assert "rating" in caught.value.extra["errors"]
    with pytest.raises(Forbidden):
        create_client(session, new_client(), AUDITOR)


def test_edits_are_refused_for_other_owners_and_sensitive_fields(
    session: Session, users: None
) -> None:
    client = create_client(session, new_client(), SALES1)
    session.commit()
    with pytest.raises(NotFound):  # another owner's client: as if there were none
        update_client(session, client.id, {"industry": "retail"}, SALES2)
    session.rollback()
    with pytest.raises(Conflict) as caught:
        update_client(session, client.id, {"bank_account": "6222020012349999"}, SALES1)
    assert f"/api/v1/clients/{client.id}/change-requests" in caught.value.detail
    session.rollback()
    with pytest.raises(VersionConflict):
        update_client(session, client.id, {"industry": "retail"}, SALES1, expected_version=7)
    session.rollback()
    update_client(
        session,
        client.id,
        {
            "industry": "retail",
            "contacts": [{"name": "李四", "phone": "13900001111", "email": None}],
        },
        SALES1,
        expected_version=1,
    )
    session.commit()
    assert client.version == 2
    edit = client_history(session, client.id)[-1]
    assert edit.kind == "client.updated"
    assert edit.payload["diff"]["industry"] == {"before": None, "after": "retail"}
    phones = [c["phone"] for c in edit.payload["diff"]["contacts"]["after"]]
    assert phones == ["139****1111"]  # never the full number in the audit trail


def test_creation_diff_masks_personal_data(session: Session, users: None) -> None:
    client = create_client(session, new_client(), SALES1)
    session.commit()
    created = client_history(session, client.id)[0]
    assert created.kind == "client.created"
    assert created.payload["diff"]["bank_account"]["after"] == "**** **** **** 5678"
    assert "6222020012345678" not in str(created.payload)


def test_views_are_masked_by_role_and_unmasked_reads_are_audited(
    session: Session, users: None
) -> None:
    client = create_client(session, new_client(), SALES1)
    session.commit()
    # the owner sees the contacts they collected in full, nothing else unmasked
    sales_view = client_view(session, client, SALES1)
    assert sales_view["contacts"][0]["phone"] == "13812341234"
    assert sales_view["bank_account"] == "**** **** **** 5678"
    assert sales_view["registered_capital"] is None
    other_sales = Actor("sales2", frozenset({"sales"}))
    assert client_view(session, client, other_sales)["contacts"][0]["phone"] == "138****1234"
    risk_view = client_view(session, client, RISK1)
    assert risk_view["bank_account"] == "6222020012345678"
    assert risk_view["registered_capital"] == 20_000_000
    client_view(session, client, Actor.system("screening"))
    session.commit()
    reads = [r for r in client_history(session, client.id) if r.kind == "client.sensitive_read"]
    assert [(r.actor, r.payload["fields"]) for r in reads] == [
        ("risk1", ["bank_account", "contacts.phone"])
    ]


def test_sensitive_fields_change_through_the_approved_path(session: Session, users: None) -> None:
    client = create_client(session, new_client(), SALES1)
    session.commit()
    diff = set_sensitive_fields(
        session,
        client,
        {"credit_limit": 500000, "bank_account": "6222999988887777"},
        Actor.system("sensitive_edit"),
        reason="new bank",
        approvers=["risk1", "legal1"],
    )
    session.commit()
    assert client.credit_limit == Decimal("500000")
    assert diff["bank_account"]["after"] == "6222999988887777"
    record = client_history(session, client.id)[-1]
    assert record.kind == "client.sensitive_changed"
    assert record.payload["approvers"] == ["risk1", "legal1"]
    assert record.payload["diff"]["bank_account"]["after"] == "**** **** **** 7777"


def test_personal_data_is_ciphertext_in_the_database(session: Session, users: None) -> None:
    client = create_client(session, new_client(id_number="110101199003071233"), SALES1)
    session.commit()
    row = session.execute(
        text("SELECT bank_account, contacts, id_number FROM clients WHERE id = :id"),
        {"id": client.id},
    ).one()
    for raw in row:
        assert raw.startswith("gAAAAA")  # a Fernet token
    assert "13812341234" not in row.contacts and "6222" not in row.bank_account
    session.expire_all()
    loaded = session.execute(select(Client).where(Client.id == client.id)).scalar_one()
    assert loaded.contacts[0]["phone"] == "13812341234"


def test_a_partial_edit_still_needs_whole_contacts() -> None:
    with pytest.raises(ValidationFailed) as caught:
        validate_client_fields({"contacts": [{"phone": "13812341234"}]}, partial=True)
    assert "contacts" in caught.value.extra["errors"]
    assert validate_client_fields({"industry": "retail"}, partial=True) == {"industry": "retail"}


def test_a_list_read_is_one_logged_row_and_the_system_reads_unlogged(
    session: Session, users: None
) -> None:
    from workflow.risk.clients.service import client_views
    from workflow.risk.privacy.reads import ClientRead

    clients = [
        create_client(
            session, new_client(credit_code=make_credit_code(f"9135020000000{n:04d}")), SALES1
        )
        for n in range(3)
    ]
    session.commit()
    client_views(session, clients, RISK1)
    client_view(session, clients[0], Actor.system("screening"))
    session.commit()
    [row] = session.execute(select(ClientRead)).scalars().all()
    assert (row.username, row.view, row.client_ids) == ("risk1", "list", [c.id for c in clients])
    assert row.client_keys == "," + ",".join(str(c.id) for c in clients) + ","
    assert set(row.fields) == {str(c.id) for c in clients}
