"""A configuration change's backtest as the console shows it: waiting, running (done of
total, the phase), failed (the reason; the draft cannot be published), or finished (the
report and its hash).

The progress is the API's (``progress.of_change``, what ``GET
/api/v1/config/changes/{id}/progress`` answers); the report and its hash, or the
failure, are what the ``config_change`` case keeps in ``data.backtest``. The case page
shows it and, while it is not finished, polls ``/config/changes/<id>/backtest`` for it.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from sqlalchemy.orm import Session

from workflow.records.models import WorkflowInstance
from workflow.risk.governance import progress

DEFINITION = progress.DEFINITION
# waiting: filed, no chunk reported yet; running: chunks reported; the others are final
POLLED = frozenset({"waiting", "running"})
SEGMENTS = ("ownership_type", "industry", "region", "rating")


@dataclass(frozen=True)
class BacktestView:
    """What the console shows of one change's backtest."""

    change_id: int
    kind: str
    status: str  # waiting | running | failed | done | stopped
    done: int
    total: int
    report: dict[str, Any] | None = None
    report_hash: str | None = None
    reason: str | None = None

    @property
    def polled(self) -> bool:
        """Whether the page asks again (the backtest has not finished)."""
        return self.status in POLLED

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return min(100, self.done * 100 // self.total) if self.total else 0

    @property
    def phase(self) -> str:
        """The step the backtest is at, in words."""
        if self.status == "waiting":
            return _("Waiting for a worker to start the backtest")
        if self.status == "failed":
            return _("Failed")
        if self.status == "done":
            return _("Finished")
        if self.status == "stopped":
            return _("Withdrawn before the backtest finished")
        if self.kind.startswith("definition:"):
            return _("Planning the migration of the open cases")
        return {
            "rule_set": _("Re-rating the clients"),
            "monitoring_rules": _("Replaying the risk events"),
            "alert_routing": _("Routing the open alerts"),
            "dd_checklist": _("Checking the open due-diligence cases"),
        }.get(self.kind, _("Replaying the history"))

    @property
    def segments(self) -> tuple[str, ...]:
        return SEGMENTS

    @property
    def rating_moves(self) -> list[tuple[str, str, int]]:
        """A rule set's rating moves (``"A->S": 2``) as (from, to, clients), most first."""
        moves = []
        for move, count in ((self.report or {}).get("rating_moves") or {}).items():
            before, _sep, after = str(move).partition("->")
            moves.append((before, after, int(count)))
        return sorted(moves, key=lambda m: (-m[2], m[0], m[1]))

    def segment_rows(self, segment: str) -> list[tuple[str, int, int]]:
        """A segment's values that hold a client that moves, as (value, clients, changed),
        most changed first."""
        values = ((self.report or {}).get("segments") or {}).get(segment) or {}
        rows = [
            (str(value), int(c.get("clients", 0)), int(c.get("changed", 0)))
            for value, c in values.items()
            if int(c.get("changed", 0))
        ]
        return sorted(rows, key=lambda r: (-r[2], r[0]))


def backtest_view(session: Session, instance: WorkflowInstance) -> BacktestView | None:
    """The backtest of a ``config_change`` case (None for any other case), read afresh:
    another process may have written its progress or its outcome since."""
    if instance.definition != DEFINITION:
        return None
    found = progress.of_change(session, instance.id)  # refreshes the instance
    data = instance.data or {}
    backtest = data.get("backtest") or {}
    kind = str(data.get("kind") or "")
    done, total = found["done"], found["total"]
    if backtest.get("failed"):
        return BacktestView(
            instance.id, kind, "failed", done, total, reason=str(backtest["failed"])
        )
    if backtest.get("report") is not None:
        return BacktestView(
            instance.id,
            kind,
            "done",
            done,
            total,
            report=backtest["report"],
            report_hash=backtest.get("hash"),
        )
    if instance.state != progress.BACKTESTING:
        return BacktestView(instance.id, kind, "stopped", done, total)
    status = "running" if found["running"] or total else "waiting"
    return BacktestView(instance.id, kind, status, done, total)
