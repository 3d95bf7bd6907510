"""Role-based masking of client records and of audit diffs.

``risk_officer``, ``legal``, ``manager`` and ``auditor`` see everything. Anyone
else (``sales``, ``admin``) gets :func:`mask_client`'s view: basic contact
data, status and rating, never financials, bank accounts, identity numbers or
the risk report. The owner of a record (its salesperson) sees its contacts in
full: they collected them and must be able to call the client. Masking is deny-by-default: a field this module does not know
is hidden, so a new sensitive column cannot leak before someone classifies it.
"""

from __future__ import annotations

import copy
from collections.abc import Iterable, Mapping
from typing import Any

UNMASKED_ROLES = frozenset({"risk_officer", "legal", "manager", "auditor"})

# Shown as stored to every role.
PUBLIC_FIELDS = frozenset(
    {
        "id",
        "client_type",
        "name",
        "credit_code",
        "legal_representative",
        "industry",
        "region",
        "ownership_type",
        # Registration data, public in the national enterprise credit register
        # and needed by sales to tell SOEs apart; not a financial figure.
        "state_ownership_pct",
        "rating",
        "risk_level",
        "status",
        "owner",
        "blacklisted",
        "tags",
        # The legal basis of holding the person's data is no secret from the person's
        # salesperson, who usually collected the consent.
        "consent_basis",
        "consent_at",
        "version",
        "created_by",
        "created_at",
        "updated_at",
        "erased_at",
    }
)
# Partly shown: enough to recognise the value, not to use it.
MASKED_FIELDS = frozenset({"bank_account", "id_number", "contacts", "contracts"})
# Replaced by None: financial figures and the scorecard behind the rating.
HIDDEN_FIELDS = frozenset(
    {"registered_capital", "credit_limit", "risk_score", "risk_report", "screening"}
)

# Fields (dotted into list items) whose unmasked read by a person is audited.
SENSITIVE_READ_FIELDS = frozenset({"bank_account", "contacts.phone", "id_number"})

_MASK = "****"


def _roles(roles: Iterable[str] | str) -> frozenset[str]:
    # A bare role name would otherwise be iterated letter by letter.
    if isinstance(roles, str):
        return frozenset({roles})
    return frozenset(roles)


def can_see_sensitive(roles: Iterable[str] | str) -> bool:
    """True when any of ``roles`` may see unmasked client data."""
    return not UNMASKED_ROLES.isdisjoint(_roles(roles))


def _compact(value: str) -> str:
    return "".join(ch for ch in value.strip() if ch not in " -()\t")


def mask_phone(value: str | None) -> str | None:
    """``13812341234`` → ``138****1234``; ``+86`` is kept; short values are masked whole."""
    if value is None:
        return None
    compact = _compact(str(value))
    if not compact:
        return ""
    prefix = ""
    if compact.startswith("+86") and len(compact) > 3:
        prefix, compact = "+86 ", compact[3:]
    if len(compact) < 8:
        return prefix + _MASK
    # Always four stars: the real length would narrow the number down.
    return f"{prefix}{compact[:3]}{_MASK}{compact[-4:]}"


def mask_bank_account(value: str | None) -> str | None:
    """``6222020012345678`` → ``**** **** **** 5678`` (last 4 kept, length hidden)."""
    if value is None:
        return None
    compact = _compact(str(value))
    if not compact:
        return ""
    if len(compact) <= 4:
        return _MASK
    return f"**** **** **** {compact[-4:]}"


def mask_id_number(value: str | None) -> str | None:
    """``110101199003071234`` → ``110***********1234`` (first 3 and last 4 kept)."""
    if value is None:
        return None
    compact = _compact(str(value))
    if len(compact) <= 7:
        return "*" * len(compact)
    return compact[:3] + "*" * (len(compact) - 7) + compact[-4:]


def mask_email(value: str | None) -> str | None:
    """``zhang@example.com`` → ``z***@example.com``; the domain stays readable."""
    if value is None:
        return None
    text = str(value).strip()
    if not text:
        return ""
    local, at, domain = text.rpartition("@")
    if not at:
        return text[0] + "***"
    return f"{local[:1]}***@{domain}"


def _mask_contact(contact: Any) -> Any:
    if not isinstance(contact, Mapping):
        return None
    masked = dict(contact)
    if "phone" in masked:
        masked["phone"] = mask_phone(masked["phone"])
    if "email" in masked:
        masked["email"] = mask_email(masked["email"])
    return masked


def _mask_contract(contract: Any) -> Any:
    if not isinstance(contract, Mapping):
        return None
    masked = dict(contract)
    if "amount" in masked:
        masked["amount"] = None
    return masked


def _mask_list(items: Any, mask_item: Any) -> Any:
    if not isinstance(items, list):
        return None
    return [mask_item(item) for item in items]


def mask_client(
    data: Mapping[str, Any], roles: Iterable[str] | str, *, owner: bool = False
) -> dict[str, Any]:
    """A copy of a client record as ``roles`` may see it; ``data`` is not modified.
    ``owner``: the reader owns the record, and sees its contacts unmasked.

    For risk_officer, legal, manager and auditor: an unchanged (deep) copy.
    For everyone else:

    - shown: name, credit_code, legal_representative, industry, region,
      ownership_type, state_ownership_pct, rating, risk_level, status, owner,
      blacklisted, tags, id, version, created_by, created_at, updated_at;
    - masked: ``contacts[].phone`` (``138****1234``), ``contacts[].email``
      (``z***@example.com``), ``bank_account`` (last 4), ``id_number`` (first 3
      and last 4), ``contracts[].amount`` (None; number and dates shown);
    - hidden (None, key kept so the response shape does not change):
      registered_capital, credit_limit, risk_score, risk_report, screening,
      and any field not listed here.
    """
    if can_see_sensitive(roles):
        return copy.deepcopy(dict(data))
    masked: dict[str, Any] = {}
    for field, value in data.items():
        if field in PUBLIC_FIELDS:
            masked[field] = copy.deepcopy(value)
        elif field == "contacts":
            masked[field] = copy.deepcopy(value) if owner else _mask_list(value, _mask_contact)
        elif field == "contracts":
            masked[field] = _mask_list(value, _mask_contract)
        elif field == "bank_account":
            masked[field] = mask_bank_account(value)
        elif field == "id_number":
            masked[field] = mask_id_number(value)
        else:
            masked[field] = None
    return masked


def unmasked_sensitive_fields(
    data: Mapping[str, Any], roles: Iterable[str] | str, *, owner: bool = False
) -> list[str]:
    """The :data:`SENSITIVE_READ_FIELDS` that ``roles`` (``owner``: the record's owner)
    would read unmasked in ``data``.

    Empty when the roles see masked data or the fields are empty; the caller
    records a non-empty result in the audit trail.
    """
    if can_see_sensitive(roles):
        readable = sorted(SENSITIVE_READ_FIELDS)
    elif owner:
        readable = [f for f in sorted(SENSITIVE_READ_FIELDS) if f.startswith("contacts.")]
    else:
        return []
    read: list[str] = []
    for field in readable:
        top, _, sub = field.partition(".")
        value = data.get(top)
        if sub:
            present = isinstance(value, list) and any(
                isinstance(item, Mapping) and item.get(sub) for item in value
            )
        else:
            present = bool(value)
        if present:
            read.append(field)
    return read


def _mask_diff_value(field: str, value: Any) -> Any:
    leaf = field.rsplit(".", 1)[-1]
    if leaf == "bank_account":
        return mask_bank_account(value)
    if leaf == "id_number":
        return mask_id_number(value)
    if leaf == "phone":
        return mask_phone(value)
    if leaf == "contacts" and isinstance(value, list):
        return [_mask_contact_phone(item) for item in value]
    if leaf == "contacts" and isinstance(value, Mapping):
        return _mask_contact_phone(value)
    return copy.deepcopy(value)


def _mask_contact_phone(contact: Any) -> Any:
    if not isinstance(contact, Mapping):
        return copy.deepcopy(contact)
    masked = copy.deepcopy(dict(contact))
    if "phone" in masked:
        masked["phone"] = mask_phone(masked["phone"])
    return masked


def mask_diff(diff: Mapping[str, Any]) -> dict[str, Any]:
    """A copy of an audit diff ``{field: {"before": x, "after": y}}`` safe to store.

    Bank accounts, identity numbers and phone numbers (``phone`` fields and the
    phones inside ``contacts``) are masked in both ``before`` and ``after``;
    other values are kept so the audit trail still shows what changed. Fields
    may be dotted (``contacts.0.phone``); the last part decides.
    """
    masked: dict[str, Any] = {}
    for field, change in diff.items():
        if isinstance(change, Mapping):
            masked[field] = {
                side: _mask_diff_value(field, value)
                if side in ("before", "after")
                else copy.deepcopy(value)
                for side, value in change.items()
            }
        else:
            masked[field] = _mask_diff_value(field, change)
    return masked
