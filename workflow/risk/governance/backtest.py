"""Backtesting a candidate configuration without side effects.

Placeholder until the backtest helper's module is merged: it re-rates nothing and
reports no change, so drafts can be published end to end meanwhile.
"""

from __future__ import annotations

from collections.abc import Callable
from typing import Any

from sqlalchemy.orm import Session

from workflow.errors import Unprocessable


class BacktestFailed(Unprocessable):
    """Raised when a candidate configuration cannot be evaluated against the history."""

    slug = "backtest-failed"
    title = "Backtest failed"

    def __init__(self, reason: str) -> None:
        super().__init__(reason)
        self.reason = reason


def run_backtest(
    session: Session,
    kind: str,
    content: bytes,
    *,
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """A JSON-able report of what ``content`` would change.

    Raises:
        BacktestFailed: the candidate cannot be evaluated.
    """
    if progress is not None:
        progress(0, 0)
    return {"kind": kind, "changed": []}
