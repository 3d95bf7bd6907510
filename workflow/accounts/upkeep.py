"""Hourly upkeep of sign-in failure counts per username and address (see
:func:`workflow.accounts.users.prune_login_failures`), so that guessing names or trying from
many addresses cannot grow the table without bound."""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from workflow.accounts.users import prune_login_failures
from workflow.engine.registry import registry

log = logging.getLogger(__name__)


@registry.job("login_failures_prune", "17 * * * *")
def prune(session: Session, now: datetime, args: dict[str, Any]) -> None:
    removed = prune_login_failures(session, now)
    if removed:
        log.info("forgot %s stale sign-in failure counts", removed)
