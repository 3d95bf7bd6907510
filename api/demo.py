"""Demo users (and, from feature modules, demo data) for a fresh embedded install."""

from __future__ import annotations

import os
from collections.abc import Callable
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from workflow.accounts import users as accounts
from workflow.records.identity import Actor
from workflow.records.models import User

from .extensions import db

DEMO_ACTOR = Actor("system:demo", frozenset({"system"}))
DEMO_USERS = [
    ("sales1", ["sales"], "张销售 Zhang (sales)"),
    ("sales2", ["sales"], "李销售 Li (sales)"),
    ("risk1", ["risk_officer"], "王风控 Wang (risk officer)"),
    ("risk2", ["risk_officer"], "赵风控 Zhao (risk officer)"),
    ("legal1", ["legal"], "陈法务 Chen (legal)"),
    ("manager1", ["manager"], "刘经理 Liu (manager)"),
    ("auditor1", ["auditor"], "孙审计 Sun (auditor)"),
    ("admin", ["admin"], "系统管理员 Admin"),
]
# Feature modules append fn(session, users) to add their demo data.
DEMO_DATA: list[Callable[[Any], None]] = []


def demo_password() -> str:
    return os.environ.get("RISKLOOP_DEMO_PASSWORD", "riskloop-demo")


def ensure_demo(app: Flask, echo: Callable[[str], None] = print) -> bool:
    """Create demo users and data when the database has no users; True if created."""
    has_users = db.session.execute(select(func.count()).select_from(User)).scalar_one()
    if has_users:
        # End the read: on SQLite every transaction begins IMMEDIATE, so one left open
        # here holds the write lock and `riskloop run` on an existing database would
        # answer every write with "database is locked".
        db.session.rollback()
        return False
    password = demo_password()
    for username, roles, name in DEMO_USERS:
        accounts.create_user(
            db.session, username, password, roles, by=DEMO_ACTOR, display_name=name
        )
    db.session.commit()
    for add in DEMO_DATA:
        add(db.session)
        db.session.commit()
    echo(
        "Demo users created (password: {}): {}".format(
            password, ", ".join(f"{u} ({'/'.join(r)})" for u, r, _ in DEMO_USERS)
        )
    )
    return True


from workflow.risk.clients.demo import add_demo_clients  # noqa: E402

DEMO_DATA.append(add_demo_clients)
from workflow.risk.sensitive_edit import add_demo_change_request  # noqa: E402

DEMO_DATA.append(add_demo_change_request)
