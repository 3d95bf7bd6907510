"""The hourly audit checkpoint (see :mod:`workflow.checkpoints`)."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from workflow.checkpoints import create_checkpoint
from workflow.identity import Actor
from workflow.registry import registry


@registry.job("audit_checkpoint", "5 * * * *")
def scheduled_checkpoint(session: Session, now: datetime, args: dict[str, Any]) -> None:
    """Sign every stream head that moved since the last checkpoint."""
    create_checkpoint(session, Actor.system("audit-checkpoint"))
