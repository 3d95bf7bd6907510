"""Auditing which risk rule set a process screens with.

The first process to run a rule set's content records ``rule_set.loaded`` with
its name, version and content hash on the ``system:rule_sets`` stream; later
starts with the same content add nothing, so the stream lists each change.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.errors import RiskloopError
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord

log = logging.getLogger(__name__)
STREAM = "system:rule_sets"


def record_rule_set_load(session: Session, settings: Mapping[str, Any]) -> audit.Appended | None:
    """Record the configured rule set's content hash if this content is new; returns the record."""
    try:
        screening = importlib.import_module("workflow.risk.screening.screen")
        rule_set = screening.rule_set(settings)
    except ModuleNotFoundError:
        return None
    except RiskloopError as exc:  # screening reports it to whoever runs it; start-up goes on
        log.warning("the risk rule set could not be loaded: %s", exc.detail)
        return None
    known = session.execute(
        select(AuditRecord.payload)
        .where(AuditRecord.stream == STREAM, AuditRecord.kind == "rule_set.loaded")
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    if known and known.get("content_hash") == rule_set.content_hash:
        return None
    return audit.record_event(
        session,
        STREAM,
        "rule_set.loaded",
        Actor.system("rules"),
        payload={
            "name": rule_set.name,
            "version": rule_set.version,
            "content_hash": rule_set.content_hash,
        },
    )
