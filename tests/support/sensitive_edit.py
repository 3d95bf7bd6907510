"""The sensitive-edit tests' world: the shipped definition added to a runtime, clients to
edit and the actors of a maker-checker."""

from __future__ import annotations

from decimal import Decimal
from pathlib import Path

from sqlalchemy.orm import Session

from workflow.engine import runtime
from workflow.engine.definitions import parse_definition
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.risk.clients.model import Client

DEFINITION = Path(__file__).parents[2] / "definitions" / "sensitive_edit.yaml"
TEST_KEY = "3q2-7wEjT5Ue8gGz8ff6k8pO1o0mQ4nH9Tk8yq1bZ3I="

SALES = Actor("sales1", frozenset({"sales"}))
SALES2 = Actor("sales2", frozenset({"sales"}))
RISK = Actor("risk1", frozenset({"risk_officer"}))
RISK2 = Actor("risk2", frozenset({"risk_officer"}))
LEGAL = Actor("legal1", frozenset({"legal"}))
MANAGER = Actor("manager1", frozenset({"manager"}))
AUDITOR = Actor("auditor1", frozenset({"auditor"}))
ADMIN = Actor("admin", frozenset({"admin"}))
# People holding a forbidden role next to an approver's role.
ADMIN_RISK = Actor("admin_risk", frozenset({"admin", "risk_officer"}))
AUDITOR_LEGAL = Actor("auditor_legal", frozenset({"auditor", "legal"}))
SALES_RISK = Actor("sales_risk", frozenset({"sales", "risk_officer"}))


def add_to_catalog(rt: runtime.Runtime) -> runtime.Runtime:
    rt.catalog.add(
        parse_definition(DEFINITION.read_bytes(), DEFINITION.name, rt.registry, rt.policy)
    )
    with rt.session() as s:
        rt.catalog.sync(s)
        s.commit()
    return rt


_codes = iter(range(10_000))


def make_client(
    session: Session, *, owner: str = "sales1", status: str = "active", **fields: object
) -> Client:
    now = clock.now()
    values: dict[str, object] = {
        "name": "华东精密制造有限公司",
        "credit_code": f"91310000MA1K{next(_codes):06d}",
        "legal_representative": "张伟",
        "credit_limit": Decimal("500000.00"),
        "rating": "B",
        "risk_level": "medium",
        "bank_account": "6222020012345678",
        "blacklisted": False,
        "status": status,
        "owner": owner,
        "created_by": owner,
        "version": 1,
        "created_at": now,
        "updated_at": now,
        "tags": [],
        "contracts": [],
        "facts": {},
        **fields,
    }
    client = Client(**values)
    session.add(client)
    session.commit()
    return client
