"""The new-client form: flat form fields to the nested data the client service validates."""

from __future__ import annotations

from typing import Any

from werkzeug.datastructures import MultiDict

from workflow.platform.hygiene import whole_number

TEXT_FIELDS = (
    "client_type",
    "name",
    "credit_code",
    "legal_representative",
    "id_number",
    "consent_basis",
    "consent_at",
    "industry",
    "region",
    "registered_capital",
    "established_on",
    "ownership_type",
    "state_ownership_pct",
    "bank_account",
)
CONTACT_FIELDS = ("name", "phone", "email")
FACT_FIELDS = ("litigation_count", "negative_news_count", "payment_history")


def client_data(form: MultiDict[str, str]) -> dict[str, Any]:
    """Only what was filled in; the service's schema does every check (one set of rules)."""
    data: dict[str, Any] = {}
    for name in TEXT_FIELDS:
        value = form.get(name, "").strip()
        if value:
            data[name] = (
                value.replace(",", "")
                if name in ("registered_capital", "state_ownership_pct")
                else value
            )
    contact = {k: form.get(f"contact_{k}", "").strip() for k in CONTACT_FIELDS}
    if any(contact.values()):
        data["contacts"] = [{k: v or None for k, v in contact.items()} | {"name": contact["name"]}]
    facts: dict[str, Any] = {}
    for name in FACT_FIELDS:
        value = form.get(f"fact_{name}", "").strip()
        if value:
            number = whole_number(value) if name != "payment_history" else None
            facts[name] = value if number is None else number
    if facts:
        data["facts"] = facts
    tags = [t.strip() for t in form.get("tags", "").replace("，", ",").split(",") if t.strip()]
    if tags:
        data["tags"] = tags
    return data


def field_errors(errors: dict[str, Any]) -> dict[str, str]:
    """Service errors keyed by form field (``contacts.0.phone`` → ``contact_phone``)."""
    flat: dict[str, str] = {}

    def walk(prefix: str, value: Any) -> None:
        if isinstance(value, dict):
            for key, inner in value.items():
                walk(f"{prefix}.{key}" if prefix else str(key), inner)
        elif isinstance(value, list) and value and all(isinstance(v, str) for v in value):
            flat[prefix] = " ".join(value)
        else:
            flat[prefix] = str(value)

    walk("", errors)
    named: dict[str, str] = {}
    for key, message in flat.items():
        parts = key.split(".")
        if parts[0] == "contacts":
            named[f"contact_{parts[-1]}"] = message
        elif parts[0] == "facts":
            named[f"fact_{parts[-1]}"] = message
        else:
            named[parts[0]] = message
    return named
