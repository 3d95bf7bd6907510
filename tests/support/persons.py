"""Test data of natural-person clients (自然人客户): valid resident identity numbers and a
person's record as the API takes it."""

from __future__ import annotations

from typing import Any

from workflow.risk.clients.idnumber import make_id_number


def id_number(n: int) -> str:
    """A valid identity number (born 1990-03-07 in 东城区) with order code ``n``."""
    return make_id_number(f"11010119900307{n % 1000:03d}")


def wrong_check(number: str) -> str:
    """``number`` with a check character that does not fit."""
    return number[:17] + ("0" if number[17] != "0" else "1")


def person_body(n: int = 1, **extra: Any) -> dict[str, Any]:
    return {
        "client_type": "natural_person",
        "name": f"张{n}明",
        "id_number": id_number(n),
        "consent_basis": "consent",
        "consent_at": "2026-11-30",
        "region": "北京",
        "contacts": [{"name": f"张{n}明", "phone": "13912345678", "email": "zhang@example.com"}],
        "bank_account": "6222020012349999",
        **extra,
    }
