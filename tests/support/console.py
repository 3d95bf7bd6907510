"""The console as a browser uses it: forms posted with their CSRF token; a client entered
through the new-client form."""

from __future__ import annotations

import re
from typing import Any

from flask import Flask
from flask.testing import FlaskClient

from api.extensions import db
from tests.support.app import PASSWORD
from workflow.records.identity import Actor
from workflow.risk.clients import service as client_service
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.model import Client

_TOKEN = re.compile(r'name="csrf_token" value="([^"]+)"')


class Console:
    def __init__(self, client: FlaskClient) -> None:
        self.client = client

    def csrf(self, path: str = "/login") -> str:
        page = self.client.get(path)
        match = _TOKEN.search(page.get_data(as_text=True))
        assert match, f"no CSRF token on {path}"
        return match.group(1)

    def login(self, username: str, password: str = PASSWORD) -> Any:
        return self.client.post(
            "/login", data={"username": username, "password": password, "csrf_token": self.csrf()}
        )

    def post(
        self,
        path: str,
        data: dict[str, Any] | None = None,
        *,
        token_from: str | None = None,
        csrf: bool = True,
        **kwargs: Any,
    ) -> Any:
        form = dict(data or {})
        if csrf:
            form["csrf_token"] = self.csrf(token_from or "/inbox")
        return self.client.post(path, data=form, **kwargs)

    def get(self, path: str, **kwargs: Any) -> Any:
        return self.client.get(path, **kwargs)


CODE = "91310000MA1FL0000N"
FORM = {
    "name": "上海某某贸易有限公司",
    "credit_code": CODE,
    "legal_representative": "张三",
    "bank_account": "6222021234567890123",
    "contact_name": "李四",
    "contact_phone": "13812345678",
    "registered_capital": "5000000",
    "fact_litigation_count": "0",
    "fact_payment_history": "good",
}


def client_row(app: Flask, code: str = CODE) -> Client | None:
    with app.app_context():
        return db.session.query(Client).filter_by(credit_code=code).one_or_none()


def new_client(sales: Console, app: Flask) -> int:
    sales.post("/clients/new", {**FORM, "submit_for_admission": "0"})
    return client_row(app).id


SALES = Actor("sales1", frozenset({"sales"}))


def prospect(app: Flask) -> int:
    """A prospect of sales1's with masked values (capital, a contact, facts); its id."""
    with app.app_context():
        client = client_service.create_client(
            db.session,
            {
                "name": "宁波编辑示例有限公司",
                "credit_code": make_credit_code("91330200MA2ED1T01"),
                "registered_capital": "30000000",
                "industry": "制造业",
                "contacts": [{"name": "周七", "phone": "13800138000", "email": "zhou@example.com"}],
                "facts": {"litigation_count": 0, "payment_history": "good"},
            },
            SALES,
        )
        db.session.commit()
        return client.id


def form_values(page: str) -> dict[str, str]:
    """The text inputs of a console form page: name → value."""
    return dict(re.findall(r'<input name="([a-z_]+)" type="[a-z]+" value="([^"]*)"', page))
