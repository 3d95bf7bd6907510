"""Due-diligence cases for tests: clients with contracts and risk levels, a complete checklist, a
case opened through the API."""

from __future__ import annotations

import itertools
from typing import Any

from flask import Flask

from api.extensions import db
from tests.support.app import Api
from workflow.risk.clients.model import Client

ITEMS = ("basic_info", "financials", "reputation", "legal_records", "compliance")
_codes = itertools.count(1)


def make_client(
    app: Flask,
    *,
    owner: str = "sales1",
    risk_level: str = "low",
    status: str = "active",
    contracts: list[dict[str, Any]] | None = None,
) -> int:
    with app.app_context():
        n = next(_codes)
        client = Client(
            name=f"Client {n}",
            credit_code=f"91310000DD{n:08d}",
            owner=owner,
            created_by=owner,
            risk_level=risk_level,
            status=status,
            contracts=contracts or [],
        )
        db.session.add(client)
        db.session.commit()
        return client.id


def checklist(**overrides: Any) -> dict[str, Any]:
    items: dict[str, Any] = {k: {"finding": f"{k} checked", "risk": "low"} for k in ITEMS}
    items.update(overrides)
    return {k: v for k, v in items.items() if v is not None}


def open_case(api: Api, client_id: int, user: str = "risk1") -> dict[str, Any]:
    r = api.post(user, f"/api/v1/clients/{client_id}/due-diligence", json={})
    assert r.status_code == 201, r.get_json()
    return r.get_json()
