"""Client imports for tests: CSV files with valid credit codes, uploaded through the API, and the
clients they made."""

from __future__ import annotations

import io

from flask import Flask
from sqlalchemy import select

from api.extensions import db
from tests.support.app import Api
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.model import Client

HEADER = "name,credit_code,registered_capital,ownership_type,bank_account,contact_name,contact_phone,litigation_count,tags"


def code(n: int) -> str:
    return make_credit_code(f"9151010{n:010d}")


def csv_file(*rows: str) -> bytes:
    return ("\n".join((HEADER, *rows)) + "\n").encode("utf-8")


def upload(api: Api, user: str, content: bytes, name: str = "clients.csv", query: str = ""):  # noqa: ANN201
    return api.post(
        user,
        f"/api/v1/clients/import{query}",
        data={"file": (io.BytesIO(content), name)},
        content_type="multipart/form-data",
    )


def clients(app: Flask) -> dict[str, Client]:
    with app.app_context():
        rows = db.session.execute(select(Client)).scalars().all()
        for row in rows:
            db.session.expunge(row)
        return {c.credit_code: c for c in rows}
