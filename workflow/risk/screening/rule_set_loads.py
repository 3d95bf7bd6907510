"""Auditing which risk rule set a process screens with.

``rule_set.loaded`` on the ``system:rule_sets`` stream names the rule set screening uses:
the **active** ``rule_set`` version of ``config_versions`` (the one
:func:`workflow.risk.governance.active.active_rule_set` compiles), or the shipped file
while none is stored. Its payload: ``name``, ``version`` (the active version's number),
``content_hash`` (the version's content hash, the ``new_hash`` of the ``config.activated``
record that made it active), ``text_hash`` (SHA-256 of the text screening compiled, the
hash decisions quote) and ``source``. It is recorded at start-up (after the shipped files
are seeded or proposed) and again in the transaction that activates a governed change of
``rule_set``; a record whose hash equals the last one is not repeated, so the stream lists
each change of what screens.
"""

from __future__ import annotations

import importlib
import logging
from collections.abc import Mapping
from typing import Any

import yaml
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from workflow.errors import RiskloopError
from workflow.records import config_versions as versions
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord
from workflow.risk.screening.rules import parse_rule_set

log = logging.getLogger(__name__)
STREAM = "system:rule_sets"
KIND = "rule_set"


def _active_payload(session: Session, settings: Mapping[str, Any]) -> dict[str, Any] | None:
    """What screening uses now: the active version, else the shipped file.

    Raises:
        RiskloopError: the rule set does not compile.
    """
    row = None
    if inspect(session.connection()).has_table(versions.ConfigVersion.__tablename__):
        row = versions.active(session, KIND)
    if row is not None:
        source = f"config_versions:{row.kind}@{row.version}"
        compiled = parse_rule_set(row.content, source)
        return {
            "name": compiled.name,
            "version": row.version,
            "content_hash": row.content_hash,
            "text_hash": compiled.content_hash,
            "source": source,
        }
    try:
        screening = importlib.import_module("workflow.risk.screening.screen")
    except ModuleNotFoundError:
        return None
    shipped = screening.rule_set(settings)
    with open(shipped.source, "rb") as handle:  # the text the shipped version is seeded from
        document = yaml.safe_load(handle)
    return {
        "name": shipped.name,
        "version": shipped.version,
        "content_hash": versions.canonical_hash(document),
        "text_hash": shipped.content_hash,
        "source": shipped.source,
    }


def record_rule_set_load(session: Session, settings: Mapping[str, Any]) -> audit.Appended | None:
    """Record the rule set screening uses now if it is not the last one recorded; returns
    the record (None: the same as the last, or no rule set to screen with)."""
    try:
        payload = _active_payload(session, settings)
    except RiskloopError as exc:  # screening reports it to whoever runs it; start-up goes on
        log.warning("the risk rule set could not be loaded: %s", exc.detail)
        return None
    except OSError as exc:
        log.warning("the risk rule set could not be read: %s", exc)
        return None
    if payload is None:
        return None
    known = session.execute(
        select(AuditRecord.payload)
        .where(AuditRecord.stream == STREAM, AuditRecord.kind == "rule_set.loaded")
        .order_by(AuditRecord.seq.desc())
        .limit(1)
    ).scalar_one_or_none()
    if known and known.get("content_hash") == payload["content_hash"]:
        return None
    return audit.record_event(
        session, STREAM, "rule_set.loaded", Actor.system("rules"), payload=payload
    )
