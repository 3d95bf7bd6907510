"""The English console's world: clients and actors created through the real services, and the
check that a page has no untranslated Chinese left."""

from __future__ import annotations

import re

from api.extensions import db
from workflow.records.identity import Actor
from workflow.risk.clients import service as client_service
from workflow.risk.clients.creditcode import make_credit_code

CJK = re.compile(r"[\u3000-\u303f\u3400-\u4dbf\u4e00-\u9fff\uff00-\uffef]+")

# Deliberately not translated: the language switcher names each language in itself, and
# amounts are in 元 in both languages.
LANGUAGE_SWITCH = re.compile(r'<form method="post" action="/language".*?</form>', re.S)
YUAN = re.compile(r"(?<=\d )元|\(元\)")

SALES = Actor("sales1", frozenset({"sales"}))
RISK1 = Actor("risk1", frozenset({"risk_officer"}))
RISK2 = Actor("risk2", frozenset({"risk_officer"}))


def credit_code(serial: int) -> str:
    return make_credit_code(f"91310000MA{serial:07d}")


def make_client(name: str, serial: int) -> int:
    client = client_service.create_client(
        db.session,
        {
            "name": name,
            "credit_code": credit_code(serial),
            "legal_representative": "John Smith",
            "bank_account": "6222020000111122223",
            "registered_capital": "30000000",
            "contacts": [{"name": "Jane Doe", "phone": "13812345678"}],
            "industry": "trading",
            "region": "Shanghai",
            "facts": {"litigation_count": 1, "negative_news_count": 0, "payment_history": "good"},
        },
        SALES,
    )
    db.session.flush()
    return client.id


def untranslated(html: str) -> list[str]:
    text = YUAN.sub("", LANGUAGE_SWITCH.sub("", html))
    return sorted(set(CJK.findall(text)))
