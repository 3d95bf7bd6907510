"""Demo clients for a fresh embedded install: one per onboarding path, owned by sales1/sales2,
and a natural person (a prospect of sales1)."""

from __future__ import annotations

from datetime import date
from typing import Any

from sqlalchemy.orm import Session

from workflow.records.identity import Actor
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.idnumber import make_id_number
from workflow.risk.clients.service import create_client
from workflow.risk.onboarding import start_admission
from workflow.risk.screening.watchlist import import_watchlist

_TODAY = date.today()
DEMO_CLIENTS: list[tuple[str, bool, dict[str, Any]]] = [
    # (owner, submit for admission, fields)
    (
        "sales1",
        True,
        {
            "name": "中国示例能源集团有限公司",
            "credit_code": make_credit_code("91110000100000011"),
            "ownership_type": "central_soe",
            "state_ownership_pct": 95,
            "registered_capital": 5_000_000_000,
            "industry": "energy",
            "region": "北京市",
            "legal_representative": "王建国",
            "established_on": "1998-06-01",
            "contacts": [{"name": "周敏", "phone": "13800138001", "email": "zhou@example.com"}],
            "bank_account": "6222020200112233445",
        },
    ),
    (
        "sales1",
        True,
        {
            "name": "上海示例精密制造有限公司",
            "credit_code": make_credit_code("91310000100000022"),
            "ownership_type": "private",
            "registered_capital": 200_000_000,
            "established_on": "2008-03-15",
            "industry": "manufacturing",
            "region": "上海市",
            "contacts": [{"name": "陈静", "phone": "13900139002", "email": None}],
        },
    ),
    (
        "sales2",
        False,
        {
            "name": "杭州示例电子商务有限公司",
            "credit_code": make_credit_code("91330100100000033"),
            "ownership_type": "private",
            "registered_capital": 20_000_000,
            "established_on": _TODAY.replace(year=_TODAY.year - 4).isoformat(),
            "industry": "e-commerce",
            "region": "浙江省杭州市",
            "facts": {"litigation_count": 1, "payment_history": "minor_delays"},
        },
    ),
    (
        "sales2",
        True,
        {
            "name": "成都示例建材有限公司",
            "credit_code": make_credit_code("91510100100000044"),
            "ownership_type": "private",
            "registered_capital": 2_000_000,
            "established_on": _TODAY.replace(year=_TODAY.year - 2).isoformat(),
            "industry": "construction",
            "region": "四川省成都市",
            "facts": {
                "litigation_count": 3,
                "negative_news_count": 1,
                "payment_history": "minor_delays",
            },
        },
    ),
    (
        "sales1",
        True,
        {
            "name": "广州示例贸易有限公司",
            "credit_code": make_credit_code("91440100100000055"),
            "ownership_type": "private",
            "registered_capital": 10_000_000,
            "industry": "trade",
            "region": "广东省广州市",
        },
    ),
    (
        # a natural person (自然人客户): identity number and consent instead of a credit code
        "sales1",
        False,
        {
            "client_type": "natural_person",
            "name": "林晓燕",
            "id_number": make_id_number("35020319850612002"),
            "consent_basis": "contract",
            "consent_at": _TODAY.isoformat(),
            "region": "福建省厦门市",
            "contacts": [{"name": "林晓燕", "phone": "13600136006", "email": None}],
        },
    ),
]
DEMO_WATCHLIST = [
    {
        "credit_code": make_credit_code("91440100100000055"),
        "name": "广州示例贸易有限公司",
        "list": "blacklist",
        "reason": "演示数据：合同诈骗",
    }
]


def add_demo_clients(session: Session) -> None:
    """Create the demo watch list and clients; submitted ones are screened by the worker."""
    import_watchlist(session, DEMO_WATCHLIST, Actor.system("demo"), source="demo")
    for owner, submit, fields in DEMO_CLIENTS:
        actor = Actor(owner, frozenset({"sales"}))
        client = create_client(session, fields, actor)
        if submit:
            start_admission(session, client.id, actor, comment="demo")
