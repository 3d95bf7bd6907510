import copy

import pytest

from workflow.risk.clients.masking import (
    HIDDEN_FIELDS,
    MASKED_FIELDS,
    PUBLIC_FIELDS,
    SENSITIVE_READ_FIELDS,
    UNMASKED_ROLES,
    can_see_sensitive,
    mask_bank_account,
    mask_client,
    mask_diff,
    mask_email,
    mask_id_number,
    mask_phone,
    unmasked_sensitive_fields,
)


def client_record() -> dict:
    return {
        "id": 7,
        "name": "厦门示例贸易有限公司",
        "credit_code": "91350100M000100Y43",
        "legal_representative": "张三",
        "industry": "wholesale",
        "region": "福建省厦门市",
        "registered_capital": 50_000_000.0,
        "ownership_type": "private",
        "state_ownership_pct": 0.0,
        "contacts": [
            {"name": "李四", "phone": "13812341234", "email": "lisi@example.com"},
            {"name": "王五", "phone": "+86 139 0000 5678", "email": None},
        ],
        "bank_account": "6222 0200 1234 5678",
        "credit_limit": 10_000_000,
        "rating": "B",
        "risk_score": 74.5,
        "risk_level": "medium",
        "status": "active",
        "owner": "sales1",
        "blacklisted": False,
        "tags": ["key-account"],
        "id_number": "110101199003071234",
        "risk_report": {"fired_rules": [], "contributions": []},
        "contracts": [
            {"number": "HT-001", "amount": 2_000_000, "start": "2026-01-01", "end": "2026-12-31"}
        ],
    }


@pytest.mark.parametrize(
    ("phone", "masked"),
    [
        ("13812341234", "138****1234"),
        ("138 1234 1234", "138****1234"),
        ("138-1234-1234", "138****1234"),
        ("+8613812341234", "+86 138****1234"),
        ("010-12345678", "010****5678"),
        ("12345", "****"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_phone(phone, masked):
    assert mask_phone(phone) == masked


@pytest.mark.parametrize(
    ("account", "masked"),
    [
        ("6222020012345678", "**** **** **** 5678"),
        ("6222 0200 1234 5678 901", "**** **** **** 8901"),
        ("1234", "****"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_bank_account_keeps_only_the_last_four(account, masked):
    assert mask_bank_account(account) == masked


@pytest.mark.parametrize(
    ("number", "masked"),
    [
        ("110101199003071234", "110***********1234"),
        ("11010119900307123X", "110***********123X"),
        ("110101900307123", "110********7123"),
        ("1234567", "*******"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_id_number_keeps_the_first_three_and_last_four(number, masked):
    assert mask_id_number(number) == masked


@pytest.mark.parametrize(
    ("email", "masked"),
    [
        ("zhang@example.com", "z***@example.com"),
        ("a@b.cn", "a***@b.cn"),
        ("@example.com", "***@example.com"),
        ("not-an-email", "n***"),
        ("", ""),
        (None, None),
    ],
)
def test_mask_email_keeps_the_first_letter_and_the_domain(email, masked):
    assert mask_email(email) == masked


@pytest.mark.parametrize("role", sorted(UNMASKED_ROLES))
def test_privileged_roles_see_everything(role):
    assert can_see_sensitive([role])
    record = client_record()
    assert mask_client(record, [role]) == record


@pytest.mark.parametrize("roles", [["sales"], ["admin"], [], ["sales", "admin"]])
def test_other_roles_do_not_see_sensitive_data(roles):
    assert not can_see_sensitive(roles)


def test_any_privileged_role_among_several_unmasks():
    assert can_see_sensitive(["sales", "legal"])


def test_a_bare_role_name_is_treated_as_one_role():
    assert can_see_sensitive("auditor")
    # "sales" must not be read as the letters s, a, l, e, s
    assert not can_see_sensitive("sales")


def test_sales_sees_basic_data_status_and_rating_unchanged():
    masked = mask_client(client_record(), ["sales"])
    for field in ("name", "credit_code", "legal_representative", "status", "rating", "tags"):
        assert masked[field] == client_record()[field]
    assert masked["risk_level"] == "medium"
    assert masked["contacts"][0]["name"] == "李四"


def test_sales_sees_masked_phones_emails_bank_account_and_id_number():
    masked = mask_client(client_record(), ["sales"])
    assert masked["contacts"][0]["phone"] == "138****1234"
    assert masked["contacts"][0]["email"] == "l***@example.com"
    assert masked["contacts"][1]["phone"] == "+86 139****5678"
    assert masked["contacts"][1]["email"] is None
    assert masked["bank_account"] == "**** **** **** 5678"
    assert masked["id_number"] == "110***********1234"


def test_sales_never_sees_financials_or_the_risk_report():
    masked = mask_client(client_record(), ["sales"])
    for field in ("registered_capital", "credit_limit", "risk_score", "risk_report"):
        assert field in masked
        assert masked[field] is None
    assert masked["contracts"] == [
        {"number": "HT-001", "amount": None, "start": "2026-01-01", "end": "2026-12-31"}
    ]


def test_unknown_fields_are_hidden_from_sales():
    record = client_record() | {"annual_revenue": 123_456_789}
    assert mask_client(record, ["sales"])["annual_revenue"] is None
    assert mask_client(record, ["manager"])["annual_revenue"] == 123_456_789


def test_every_client_field_of_the_api_is_classified():
    api_fields = set(client_record()) - {"id_number", "risk_report", "contracts"}
    classified = PUBLIC_FIELDS | MASKED_FIELDS | HIDDEN_FIELDS
    assert api_fields <= classified


def test_masking_does_not_modify_the_input():
    record = client_record()
    before = copy.deepcopy(record)
    mask_client(record, ["sales"])["tags"].append("x")
    mask_client(record, ["manager"])["contacts"][0]["phone"] = "x"
    assert record == before


def test_malformed_nested_values_are_hidden_not_crashing():
    record = {"contacts": "13812341234", "contracts": [42]}
    assert mask_client(record, ["sales"]) == {"contacts": None, "contracts": [None]}


def test_unmasked_reads_of_sensitive_fields_are_listed_for_the_audit():
    record = client_record()
    assert unmasked_sensitive_fields(record, ["risk_officer"]) == sorted(SENSITIVE_READ_FIELDS)
    assert unmasked_sensitive_fields(record, ["sales"]) == []


def test_empty_sensitive_fields_are_not_counted_as_read():
    record = client_record() | {"bank_account": None, "contacts": [{"name": "x", "phone": ""}]}
    del record["id_number"]
    assert unmasked_sensitive_fields(record, ["auditor"]) == []


def test_mask_diff_masks_sensitive_values_on_both_sides():
    diff = {
        "bank_account": {"before": "6222020012345678", "after": "6222020087654321"},
        "id_number": {"before": None, "after": "110101199003071234"},
        "contacts": {
            "before": [{"name": "李四", "phone": "13812341234", "email": "l@example.com"}],
            "after": [{"name": "李四", "phone": "13987654321", "email": "l@example.com"}],
        },
        "contacts.0.phone": {"before": "13812341234", "after": "13987654321"},
        "credit_limit": {"before": 1_000_000, "after": 2_000_000},
    }
    masked = mask_diff(diff)
    assert masked["bank_account"] == {
        "before": "**** **** **** 5678",
        "after": "**** **** **** 4321",
    }
    assert masked["id_number"] == {"before": None, "after": "110***********1234"}
    assert masked["contacts"]["before"][0]["phone"] == "138****1234"
    assert masked["contacts"]["after"][0] == {
        "name": "李四",
        "phone": "139****4321",
        "email": "l@example.com",
    }
    assert masked["contacts.0.phone"] == {"before": "138****1234", "after": "139****4321"}
    # Non-personal changes stay readable so the audit trail shows what changed.
    assert masked["credit_limit"] == {"before": 1_000_000, "after": 2_000_000}


def test_mask_diff_does_not_modify_the_input():
    diff = {"contacts": {"before": [{"phone": "13812341234"}], "after": []}}
    before = copy.deepcopy(diff)
    mask_diff(diff)
    assert diff == before


def test_the_owner_sees_the_contacts_in_full_and_nothing_else_unmasked() -> None:
    record = client_record()
    own = mask_client(record, ["sales"], owner=True)
    assert own["contacts"] == record["contacts"]
    assert own["bank_account"] == "**** **** **** 5678"
    assert own["id_number"] == "110***********1234"
    assert own["registered_capital"] is None
    assert unmasked_sensitive_fields(record, ["sales"], owner=True) == ["contacts.phone"]
    # owning changes nothing for the roles that see everything, nor for anyone else
    assert mask_client(record, ["sales"])["contacts"][0]["phone"] == "138****1234"
    assert unmasked_sensitive_fields(record, ["risk_officer"], owner=True) == sorted(
        SENSITIVE_READ_FIELDS
    )


def test_client_type_and_consent_are_shown_to_every_role() -> None:
    record = {
        **client_record(),
        "client_type": "natural_person",
        "consent_basis": "contract",
        "consent_at": "2026-11-30",
    }
    masked = mask_client(record, ["sales"])
    assert (masked["client_type"], masked["consent_basis"], masked["consent_at"]) == (
        "natural_person",
        "contract",
        "2026-11-30",
    )
