"""Migration 0018 moves existing client records to per-record data keys: the legal
representative (plaintext before), the identity number, contacts and bank account
(master-key tokens before) are sealed with each record's key, the financial figures
encrypted; the downgrade gives the old layout back (SQLite and PostgreSQL)."""

from __future__ import annotations

import json
from decimal import Decimal
from pathlib import Path

import pytest
from flask_migrate import downgrade, upgrade
from sqlalchemy import text

from api import create_app
from api.extensions import db, runtime_of
from workflow.risk.clients.model import Client

KEYS = "3q2-7wEjT5Ue8gGz8ff6k8pO1o0mQ4nH9Tk8yq1bZ3I="
CONTACTS = [{"name": "李四", "phone": "13812341234", "email": "lisi@example.com"}]


def test_existing_clients_get_a_data_key_and_keep_their_values(
    empty_db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    app = create_app(
        {
            "DATABASE_URL": empty_db_url,
            "SECRET_KEY": "k",
            "RISKLOOP_AUDIT_KEY": "a",
            "RISKLOOP_ENCRYPTION_KEYS": KEYS,
        }
    )
    with app.app_context():
        upgrade(directory="api/migrations", revision="0014_push_channels")
        cipher = runtime_of(app).cipher
        assert cipher is not None
        db.session.execute(
            text(
                "INSERT INTO clients (id, name, credit_code, legal_representative, id_number, "
                "contacts, bank_account, registered_capital, credit_limit, status, owner, "
                "blacklisted, tags, contracts, facts, version, created_by, created_at, "
                "updated_at) VALUES (1, '华东精密', '91310000MA1K000001', '张伟', :idn, :contacts, "
                ":bank, 20000000.00, 500000.50, 'active', 'sales1', false, '[]', '[]', '{}', 1, "
                "'sales1', '2026-01-01 00:00:00', '2026-01-01 00:00:00')"
            ),
            {
                "idn": cipher.encrypt("110101199003071234"),
                "contacts": cipher.encrypt(json.dumps(CONTACTS, ensure_ascii=False)),
                "bank": cipher.encrypt("6222020012345678"),
            },
        )
        db.session.commit()

        upgrade(directory="api/migrations")
        raw = db.session.execute(text("SELECT * FROM clients")).mappings().one()
        assert "张伟" not in str(dict(raw)) and "20000000" not in str(dict(raw))
        assert raw["data_key"] and raw["erased_at"] is None
        client = db.session.get(Client, 1)
        assert client is not None
        assert (client.legal_representative, client.id_number, client.bank_account) == (
            "张伟",
            "110101199003071234",
            "6222020012345678",
        )
        assert client.contacts == CONTACTS
        assert client.registered_capital == Decimal("20000000.00")
        assert client.credit_limit == Decimal("500000.50")
        db.session.rollback()
        db.session.remove()

        downgrade(directory="api/migrations", revision="0014_push_channels")
        raw = db.session.execute(text("SELECT * FROM clients")).mappings().one()
        assert raw["legal_representative"] == "张伟"
        assert cipher.decrypt(raw["bank_account"]) == "6222020012345678"
        assert json.loads(cipher.decrypt(raw["contacts"])) == CONTACTS
        assert Decimal(str(raw["credit_limit"])) == Decimal("500000.50")
        db.session.remove()
        db.engine.dispose()
