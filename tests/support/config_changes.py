"""Governed configuration for tests: the central-SOE threshold draft, drafts driven through
backtest to approval, a backtest caught running."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from api import create_app
from api.extensions import db
from tests import fixture_registry
from tests.support.app import FIXTURES, TEST_KEYS, Api, drain
from workflow.risk.governance.progress import Reporter

SOE_80 = "facts.state_ownership_pct > 80.0"
SOE_70 = "facts.state_ownership_pct > 70.0"


def active_content(api: Api, kind: str = "rule_set") -> dict:
    r = api.get("risk1", f"/api/v1/config/{kind}")
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def soe_threshold_70(content: str) -> str:
    """The rule set with the central-SOE white list at 70 %, reasons saying so."""
    assert SOE_80 in content
    return (
        content.replace(SOE_80, SOE_70)
        .replace("超过 80%", "超过 70%")
        .replace("more than 80 %", "more than 70 %")
    )


def draft(api: Api, kind: str, content: str, user: str = "risk1", reason: str = "why"):  # noqa: ANN201
    return api.post(
        user, f"/api/v1/config/{kind}/drafts", json={"content": content, "reason": reason}
    )


def drafted_and_backtested(app: Flask, api: Api, kind: str, content: str) -> dict:
    """A draft filed by risk1 and backtested; the change as it is then."""
    r = draft(api, kind, content)
    assert r.status_code == 201, r.get_json()
    drain(app)
    change = api.get("risk1", f"/api/v1/workflows/{r.get_json()['id']}").get_json()
    assert change["state"] == "awaiting_approval", change
    return change


def approve(api: Api, change: dict, user: str = "manager1", content_hash: str | None = None):  # noqa: ANN201
    return api.act(
        user,
        change["id"],
        "approve",
        expected_version=change["version"],
        content_hash=content_hash or change["data"]["content_hash"],
    )


def shipped_changes(app: Flask, api: Api, kind: str) -> list[dict]:
    """The changes of ``kind`` proposed by deployments (``system:deployment``), oldest first,
    as the API shows them to a manager, once their backtests ran."""
    from workflow.risk.governance.seeding import shipped_changes as proposed

    drain(app)
    with app.app_context():
        ids = [change.id for change in proposed(db.session, kind)]
        db.session.remove()
    return [api.get("manager1", f"/api/v1/workflows/{i}").get_json() for i in ids]


def open_app(db_url: str, **extra: object) -> Flask:
    """Another process's app over the same database (start-up seeds and checks)."""
    return create_app(
        {"DATABASE_URL": db_url, "TESTING": True, "RISKLOOP_EXTRA_DEFINITIONS": str(FIXTURES)}
        | TEST_KEYS
        | extra,
        registries=[fixture_registry.registry],
    )


def close(app: Flask) -> None:
    with app.app_context():
        db.session.remove()
        db.engine.dispose()


SOE_75 = {"ownership_type": "central_soe", "state_ownership_pct": 75, "registered_capital": 2e6}


SHIPPED = Path(__file__).parents[2] / "definitions" / "rules" / "default.yaml"


def shipped_v3(tmp_path: Path, name: str = "rules_v3.yaml") -> Path:
    """The shipped rule set as version 3 with the central-SOE white list at 70 %."""
    text = SHIPPED.read_text(encoding="utf-8")
    assert "\nversion: 2\n" in text
    path = tmp_path / name
    path.write_text(soe_threshold_70(text.replace("\nversion: 2\n", "\nversion: 3\n")), "utf-8")
    return path


def restart(db_url: str, rules: Path) -> None:
    """Another start-up over the same database, with ``rules`` as the shipped rule set."""
    close(open_app(db_url, RISKLOOP_RULE_SET=str(rules)))


def approve_shipped(app: Flask, user: str = "manager1") -> list[str]:
    """Backtest and approve, as manager ``user``, every change a start-up proposed from a
    newer shipped file; returns their kinds."""
    from sqlalchemy import select

    from workflow.engine import firing as engine
    from workflow.records.identity import Actor
    from workflow.records.models import WorkflowInstance
    from workflow.risk.governance.seeding import SHIPPER

    drain(app)
    approved = []
    with app.app_context():
        waiting = db.session.execute(
            select(WorkflowInstance).where(
                WorkflowInstance.created_by == SHIPPER.username,
                WorkflowInstance.state == "awaiting_approval",
            )
        ).scalars()
        for change in list(waiting):
            engine.fire(
                db.session,
                change.id,
                "approve",
                Actor(user, frozenset({"manager"})),
                {"content_hash": change.data["content_hash"]},
            )
            approved.append(change.data["kind"])
        db.session.commit()
        db.session.remove()
    return approved


def backtest_running(app: Flask, change_id: int, done: int, total: int) -> None:
    """The change's backtest as a worker leaves it between two chunks: ``done`` of
    ``total`` written to the case by progress.py's own write (``Reporter``), on SQLite too
    (here nothing else holds the write lock)."""
    with app.app_context():
        reporter = Reporter(db.session, change_id)
        reporter.engine = db.engine
        reporter(done, total)
        db.session.remove()
