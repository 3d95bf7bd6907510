"""The hourly audit checkpoint (see :mod:`workflow.audit.checkpoints`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from workflow.audit.checkpoints import create_checkpoint
from workflow.engine.registry import Registry
from workflow.records.identity import Actor

registry = Registry()


@registry.job("audit_checkpoint", "5 * * * *")
def scheduled_checkpoint(session: Session, now: datetime, args: dict[str, Any]) -> None:
    """Sign every stream head that moved since the last checkpoint."""
    create_checkpoint(session, Actor.system("audit-checkpoint"))
