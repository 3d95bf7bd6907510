"""The app under test: built with the test keys, definitions and users; a signed-in API
client; background work drained as a worker would."""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from flask import Flask
from flask.testing import FlaskClient

from api import create_app
from api.extensions import db, runtime_of
from tests import fixture_registry
from workflow.accounts import users as accounts
from workflow.background import runner as tasks
from workflow.records.identity import Actor

FIXTURES = Path(__file__).parent.parent / "fixtures" / "definitions"
PASSWORD = "correct-horse-battery"
USERS = {
    "sales1": ["sales"],
    "sales2": ["sales"],
    "risk1": ["risk_officer"],
    "risk2": ["risk_officer"],
    "legal1": ["legal"],
    "manager1": ["manager"],
    "auditor1": ["auditor"],
    "admin": ["admin"],
}
TEST_KEYS = {
    "SECRET_KEY": "test-secret",
    "RISKLOOP_AUDIT_KEY": "test-audit-key",
    "RISKLOOP_ENCRYPTION_KEYS": "3q2-7wEjT5Ue8gGz8ff6k8pO1o0mQ4nH9Tk8yq1bZ3I=",
}


def make_app(db_url: str, tmp_path: Path, **extra: object) -> Flask:
    app = create_app(
        {
            "DATABASE_URL": db_url,
            "TESTING": True,
            "RISKLOOP_EXTRA_DEFINITIONS": str(FIXTURES),
            **TEST_KEYS,
            **extra,
        },
        registries=[fixture_registry.registry],
    )
    with app.app_context():
        db.create_all()
        from api import sync_definitions

        sync_definitions(app)
        for name, roles in USERS.items():
            accounts.create_user(db.session, name, PASSWORD, roles, by=Actor.system("test"))
        db.session.commit()
    return app


class Api:
    """A signed-in test client: ``api.as_('risk1').post(...)``."""

    def __init__(self, client: FlaskClient) -> None:
        self.client = client
        self.tokens: dict[str, str] = {}

    def token(self, username: str) -> str:
        if username not in self.tokens:
            r = self.client.post(
                "/api/v1/auth/token", json={"username": username, "password": PASSWORD}
            )
            assert r.status_code == 200, r.get_json()
            self.tokens[username] = r.get_json()["access_token"]
        return self.tokens[username]

    def call(self, method: str, username: str | None, path: str, **kwargs: object):  # noqa: ANN201
        headers = dict(kwargs.pop("headers", {}) or {})  # type: ignore[call-overload]
        if username:
            headers["Authorization"] = f"Bearer {self.token(username)}"
        return self.client.open(path, method=method, headers=headers, **kwargs)

    def get(self, username: str | None, path: str, **kw: object):  # noqa: ANN201
        return self.call("GET", username, path, **kw)

    def post(self, username: str | None, path: str, **kw: object):  # noqa: ANN201
        return self.call("POST", username, path, **kw)

    def patch(self, username: str | None, path: str, **kw: object):  # noqa: ANN201
        return self.call("PATCH", username, path, **kw)

    def act(self, username: str, instance_id: int, trigger: str, **body: object):  # noqa: ANN201
        return self.post(username, f"/api/v1/workflows/{instance_id}/actions/{trigger}", json=body)


def drain(app: Flask) -> int:
    """Run every pending background task now, as a worker would."""
    rt = runtime_of(app)
    with app.app_context():
        return tasks.drain(rt.session_factory, rt.catalog.registry)


def submitted_approval(app: Flask, api: Api) -> int:
    """A ``test_approval`` case started by sales1 and submitted through the API (version 2,
    waiting for a risk officer)."""
    from workflow.engine import firing as engine

    with app.app_context():
        case = engine.start(
            db.session, "test_approval", Actor("sales1", frozenset({"sales"})), subject_id=1
        ).id
        db.session.commit()
    assert api.act("sales1", case, "submit", expected_version=1).status_code == 200
    return case


@contextmanager
def lent_without_sender(app: Flask) -> Iterator[Flask]:
    """Lend ``app`` to tests that drain its outbox themselves (no sender: see :func:`drain`);
    afterwards the clock runs again and the app's database connections are closed."""
    from workflow.platform import clock

    runtime_of(app).outbox_sender = None
    try:
        yield app
    finally:
        clock.freeze(None)
        with app.app_context():
            db.session.remove()
            db.engine.dispose()
