"""Backtesting a candidate configuration on the stored history, without side effects.

``run_backtest`` parses the candidate like production would, then runs it and the
active version through production's own code paths (rating, monitoring rules,
routing, the checklist) over the stored data and reports what would change. It only
reads: while it runs, the session refuses to flush and any ``INSERT``, ``UPDATE`` or
``DELETE`` statement, so a code path that writes as it computes fails loudly instead
of leaving a row behind.
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable
from datetime import datetime
from typing import Any

from sqlalchemy import event
from sqlalchemy.orm import ORMExecuteState, Session, scoped_session

from workflow.engine import runtime
from workflow.errors import Unprocessable
from workflow.platform import clock
from workflow.risk.alerts.intake import definition_settings
from workflow.risk.due_diligence.review import DEFINITION as DUE_DILIGENCE
from workflow.risk.events.monitoring import parse_monitoring_rules
from workflow.risk.governance.active import active_monitoring_rules, active_rule_set
from workflow.risk.governance.alert_replay import parse_routing, replay_monitoring, replay_routing
from workflow.risk.governance.checklist_replay import parse_checklist, replay_checklist
from workflow.risk.governance.definition_kind import backtest_definition, is_definition_kind
from workflow.risk.governance.overlay import governed_settings
from workflow.risk.governance.rating_replay import replay_rule_set
from workflow.risk.screening.rules import parse_rule_set

KINDS = ("rule_set", "monitoring_rules", "alert_routing", "dd_checklist")
DEFAULT_DAYS = 90
Progress = Callable[[int, int], None]


class BacktestFailed(Unprocessable):
    """Raised when a candidate configuration cannot be parsed or evaluated on the stored data."""

    slug = "backtest-failed"
    title = "Backtest failed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason, reason=reason)
        self.reason = reason


def _refuse_flush(session: Session, *_: Any) -> None:
    raise RuntimeError("a backtest must not write: something was about to be flushed")


def _refuse_writes(state: ORMExecuteState) -> None:
    if state.is_insert or state.is_update or state.is_delete:
        raise RuntimeError(f"a backtest must not write: {state.statement}")


def run_backtest(
    session: Session | scoped_session[Session],
    kind: str,
    content: bytes,
    *,
    progress: Progress | None = None,
    days: int = DEFAULT_DAYS,
    now: datetime | None = None,
) -> dict[str, Any]:
    """What ``content`` (a candidate of configuration ``kind``) would change, against the
    active version, on the stored data; a JSON-able report. ``progress(done, total)`` is
    called after every chunk; ``days``: the window of risk events for monitoring rules.

    Raises:
        BacktestFailed: the candidate cannot be parsed, or fails on stored data (the
            reason names the file key, client or event).
    """
    if kind not in KINDS and not is_definition_kind(kind):
        raise BacktestFailed(f"unknown configuration kind {kind!r}; backtests exist for {KINDS}")
    if days < 1:
        raise BacktestFailed(f"days must be at least 1, got {days}")
    now = now or clock.now()
    started = time.perf_counter()
    # Listening on a scoped_session would listen on every session of its factory (every
    # thread's): the guard goes on this thread's session alone.
    guarded = session() if isinstance(session, scoped_session) else session
    guarded.flush()  # the caller's pending changes are theirs, not the backtest's
    event.listen(guarded, "before_flush", _refuse_flush)
    event.listen(guarded, "do_orm_execute", _refuse_writes)
    try:
        if is_definition_kind(kind):
            body = backtest_definition(guarded, kind, content, progress)
        else:
            body = _RUNNERS[kind](guarded, content, now, days, progress)
    except ValueError as exc:  # RuleSetError, InvalidFactsError, a refused key or value
        raise BacktestFailed(str(exc)) from exc
    finally:
        event.remove(guarded, "do_orm_execute", _refuse_writes)
        event.remove(guarded, "before_flush", _refuse_flush)
    return {
        "kind": kind,
        "candidate_hash": hashlib.sha256(content).hexdigest(),
        "as_of": clock.isoformat(now),
        "seconds": round(time.perf_counter() - started, 3),
        **body,
    }


def _rule_set(
    session: Session, content: bytes, now: datetime, days: int, progress: Progress | None
) -> dict[str, Any]:
    candidate = parse_rule_set(content, "candidate rule_set")
    return replay_rule_set(session, candidate, active_rule_set(session), now, progress)


def _monitoring(
    session: Session, content: bytes, now: datetime, days: int, progress: Progress | None
) -> dict[str, Any]:
    candidate = parse_monitoring_rules(content, "candidate monitoring_rules")
    active = active_monitoring_rules(session)
    return replay_monitoring(session, candidate, active, now, days, progress)


def _routing(
    session: Session, content: bytes, now: datetime, days: int, progress: Progress | None
) -> dict[str, Any]:
    active = definition_settings(session)
    timezone = str(runtime.of(session).setting("RISKLOOP_TIMEZONE", "Asia/Shanghai"))
    candidate = parse_routing(content, active)
    return replay_routing(session, candidate, active, now, timezone, progress)


def _checklist(
    session: Session, content: bytes, now: datetime, days: int, progress: Progress | None
) -> dict[str, Any]:
    settings = runtime.of(session).catalog.get(DUE_DILIGENCE).settings
    active = governed_settings(session, "dd_checklist", settings).get("checklist") or {}
    return replay_checklist(session, parse_checklist(content), active, progress)


_RUNNERS: dict[str, Callable[..., dict[str, Any]]] = {
    "rule_set": _rule_set,
    "monitoring_rules": _monitoring,
    "alert_routing": _routing,
    "dd_checklist": _checklist,
}
