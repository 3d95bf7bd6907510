"""The audit and report tests' world: an app with the test definitions plus ``test_loop``
(an alert-like loop with a reopen), and a hand-built history on a frozen clock whose
durations are known."""

from __future__ import annotations

import os
from datetime import datetime, timedelta
from pathlib import Path

from flask import Flask

from api.extensions import db
from tests.support.app import FIXTURES, make_app
from workflow.audit import checkpoints
from workflow.engine import firing as engine
from workflow.platform import clock
from workflow.records.identity import Actor

LOOP_DEFINITIONS = Path(__file__).parent.parent / "fixtures" / "loop_definitions"
T0 = datetime(2026, 3, 2, 1, 0, 0)
HOUR = timedelta(hours=1)
SALES1 = Actor("sales1", frozenset({"sales"}))
SALES2 = Actor("sales2", frozenset({"sales"}))
RISK1 = Actor("risk1", frozenset({"risk_officer"}))
SYSTEM = Actor.system("sla")


def make_loop_app(db_url: str, tmp_path: Path) -> Flask:
    return make_app(
        db_url,
        tmp_path,
        RISKLOOP_EXTRA_DEFINITIONS=os.pathsep.join([str(FIXTURES), str(LOOP_DEFINITIONS)]),
    )


def _at(when: datetime) -> None:
    clock.freeze(when)


def _step(
    case: int, trigger: str, actor: Actor, when: datetime, comment: str | None = None
) -> None:
    _at(when)
    engine.fire(db.session, case, trigger, actor, {}, comment=comment)
    db.session.commit()


def build_history(app: Flask) -> dict[str, int]:
    """Three loops with known stage durations (hours):

    - red, by sales1, closed after 11 h: warned 2, responded 3, rectified 1,
      reopened → responded 4, rectified 1 (one reopen, no breach);
    - yellow, by sales2, closed after 33 h: warned 30 with an SLA escalation at
      24 h (one breach), responded 2, rectified 1;
    - red, by sales1, still open: warned 1, then responded.
    """
    with app.app_context():
        _at(T0)
        red = engine.start(db.session, "test_loop", SALES1, data={"level": "red"}).id
        db.session.commit()
        _step(red, "respond", SALES1, T0 + 2 * HOUR, "联系了客户")
        _step(red, "rectify", SALES1, T0 + 5 * HOUR)
        _step(red, "reopen", RISK1, T0 + 6 * HOUR, "整改不充分")
        _step(red, "rectify", SALES1, T0 + 10 * HOUR)
        _step(red, "review", RISK1, T0 + 11 * HOUR)

        t1 = T0 + 24 * HOUR
        _at(t1)
        yellow = engine.start(db.session, "test_loop", SALES2, data={"level": "yellow"}).id
        db.session.commit()
        _step(yellow, "escalate", SYSTEM, t1 + 24 * HOUR)
        _step(yellow, "respond", SALES2, t1 + 30 * HOUR)
        _step(yellow, "rectify", SALES2, t1 + 32 * HOUR)
        _step(yellow, "review", RISK1, t1 + 33 * HOUR)

        t2 = T0 + 72 * HOUR
        _at(t2)
        still_open = engine.start(db.session, "test_loop", SALES1, data={"level": "red"}).id
        db.session.commit()
        _step(still_open, "respond", SALES1, t2 + HOUR)
        clock.freeze(t2 + 2 * HOUR)
    return {"red": red, "yellow": yellow, "open": still_open}


AUDIT_KEY = "test-audit-key"  # tests.support.app.TEST_KEYS


def checkpoint(app) -> None:
    with app.app_context():
        checkpoints.create_checkpoint(db.session, Actor.system("test"))
        db.session.commit()


def export(api, **params) -> bytes:  # noqa: ANN001
    r = api.get("auditor1", "/api/v1/audit/export", query_string=params)
    assert r.status_code == 200, r.get_data(as_text=True)[:500]
    assert r.is_streamed
    assert r.headers["Content-Type"] in ("application/x-ndjson", "text/csv; charset=utf-8")
    return r.get_data()
