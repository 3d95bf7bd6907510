"""The riskloop app as the benchmark runs it: production settings against a bench database.

PostgreSQL and Redis (a bench Redis database, flushed afterwards), generated
keys, the bench definition loaded next to the shipped ones. The same settings go
to the in-process app (scale probes), the CLI (verification) and gunicorn
(through ``bench/wsgi.py`` and the environment).
"""

from __future__ import annotations

import os
import secrets
import tempfile
from functools import cache
from pathlib import Path
from typing import Any

from .config import Settings

BENCH_DEFINITIONS = Path(__file__).parent / "definitions"
USERNAME = "bench-approver"
PASSWORD = "bench-ledger-quartz-47"  # not containing the user name (password policy)


@cache
def _keys() -> dict[str, str]:
    from workflow.platform.crypto import generate_key

    return {
        "SECRET_KEY": secrets.token_urlsafe(48),
        "RISKLOOP_ENCRYPTION_KEYS": generate_key(),
        "RISKLOOP_AUDIT_KEY": secrets.token_urlsafe(48),
    }


@cache
def instance_path() -> str:
    return tempfile.mkdtemp(prefix="riskloop-bench-")


def environ(settings: Settings, dbname: str) -> dict[str, str]:
    """Environment for a child process (CLI, gunicorn) running the app on ``dbname``."""
    env = dict(os.environ)
    env.update(_keys())
    # Children import this checkout's code, whatever the installed (editable) one is.
    root = str(Path(__file__).resolve().parent.parent)
    env["PYTHONPATH"] = root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else "")
    env.update(
        {
            "DATABASE_URL": settings.sqlalchemy_url(dbname),
            "REDIS_URL": settings.redis_url,
            "RISKLOOP_INSTANCE_PATH": instance_path(),
            "RISKLOOP_BENCH_DEFINITIONS": str(BENCH_DEFINITIONS),
            "RISKLOOP_LOG_LEVEL": "WARNING",
            "RISKLOOP_EMBEDDED_WORKER": "0",
        }
    )
    return env


def app_config(settings: Settings, dbname: str) -> dict[str, Any]:
    return {
        **_keys(),
        "DATABASE_URL": settings.sqlalchemy_url(dbname),
        "REDIS_URL": settings.redis_url,
        "RISKLOOP_EXTRA_DEFINITIONS": str(BENCH_DEFINITIONS),
        "RISKLOOP_EMBEDDED_WORKER": False,
    }


def create_app(settings: Settings, dbname: str):
    """The Flask app in this process, on ``dbname`` (whose schema must exist)."""
    os.environ.setdefault("RISKLOOP_INSTANCE_PATH", instance_path())
    from api import create_app as factory

    return factory(app_config(settings, dbname))


def ensure_user(app) -> None:
    """The approver the benchmark acts as (argon2 once, here; tokens after)."""
    from sqlalchemy import select

    from api.extensions import db
    from workflow.accounts import users as accounts
    from workflow.records.identity import Actor
    from workflow.records.models import User

    with app.app_context():
        if db.session.execute(select(User.id).where(User.username == USERNAME)).first() is None:
            accounts.create_user(
                db.session, USERNAME, PASSWORD, ["risk_officer"], by=Actor.system("bench")
            )
            db.session.commit()


def token(app) -> str:
    client = app.test_client()
    resp = client.post("/api/v1/auth/token", json={"username": USERNAME, "password": PASSWORD})
    if resp.status_code != 200:
        raise RuntimeError(
            f"could not sign in as {USERNAME}: {resp.status_code} {resp.get_data(as_text=True)[:300]}"
        )
    return resp.get_json()["access_token"]


def flush_redis(settings: Settings) -> None:
    try:
        import redis

        redis.Redis.from_url(settings.redis_url, socket_connect_timeout=2).flushdb()
    except Exception:  # Redis is only the broker's queue here; nothing to keep
        pass
