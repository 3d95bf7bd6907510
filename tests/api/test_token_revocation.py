"""Bearer tokens can be revoked: by their holder (`DELETE /api/v1/auth/token`) and, for
good, when the user is deactivated."""

from __future__ import annotations

from sqlalchemy import select

from api.extensions import db
from tests.support.app import PASSWORD
from workflow.accounts import users as accounts
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, Token

ADMIN = Actor.system("test")


def sign_in(client, username: str = "risk1") -> str:  # noqa: ANN001
    r = client.post("/api/v1/auth/token", json={"username": username, "password": PASSWORD})
    assert r.status_code == 200
    return r.get_json()["access_token"]


def bearer(token: str) -> dict[str, str]:
    return {"Authorization": f"Bearer {token}"}


def test_delete_token_revokes_the_callers_own_token_and_no_other(app, client):
    first, second = sign_in(client), sign_in(client)
    revoked = client.delete("/api/v1/auth/token", headers=bearer(first))
    assert revoked.status_code == 204 and revoked.data == b""
    refused = client.get("/api/v1/tasks", headers=bearer(first))
    assert refused.status_code == 401 and refused.mimetype == "application/problem+json"
    assert client.get("/api/v1/tasks", headers=bearer(second)).status_code == 200
    again = client.delete("/api/v1/auth/token", headers=bearer(first))
    assert again.status_code == 401
    with app.app_context():
        rows = db.session.execute(select(Token.revoked).order_by(Token.id)).scalars().all()
        assert rows == [True, False]
        kinds = (
            db.session.execute(
                select(AuditRecord.kind)
                .where(AuditRecord.stream == "user:risk1")
                .order_by(AuditRecord.id)
            )
            .scalars()
            .all()
        )
    assert kinds[-1] == "token.revoked"


def test_delete_token_without_a_valid_token_is_a_401_problem(client):
    for headers in ({}, bearer("not-a-token")):
        r = client.delete("/api/v1/auth/token", headers=headers)
        assert r.status_code == 401 and r.mimetype == "application/problem+json"


def test_token_revocation_is_documented_in_openapi(client):
    spec = client.get("/api/v1/openapi.json").get_json()
    delete = spec["paths"]["/api/v1/auth/token"]["delete"]
    assert "204" in delete["responses"] and "401" in delete["responses"]
    assert delete["security"] == [{"bearerAuth": []}]
    assert "security" not in spec["paths"]["/api/v1/auth/token"]["post"]


def test_deactivating_a_user_revokes_their_tokens_and_reactivating_does_not_revive_them(
    app, client
):
    token = sign_in(client, "sales1")
    with app.app_context():
        accounts.set_active(db.session, "sales1", False, by=ADMIN)
        db.session.commit()
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 401
    with app.app_context():
        accounts.set_active(db.session, "sales1", True, by=ADMIN)
        db.session.commit()
        kinds = (
            db.session.execute(
                select(AuditRecord.kind)
                .where(AuditRecord.stream == "user:sales1")
                .order_by(AuditRecord.id)
            )
            .scalars()
            .all()
        )
    assert kinds[-2:] == ["user.deactivated", "user.reactivated"]
    assert client.get("/api/v1/tasks", headers=bearer(token)).status_code == 401
    assert client.get("/api/v1/tasks", headers=bearer(sign_in(client, "sales1"))).status_code == 200
