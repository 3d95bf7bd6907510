"""The shipped files as the first versions, a newer shipped file as a proposed change.

At start-up (and ``riskloop db upgrade``/``init``) each kind's shipped content is
compared with the database:

- no version stored → it becomes version N (its declared ``version``), active, audited
  as ``config.seeded`` (the first start);
- a stored version N with the same content hash → nothing;
- a stored version N with another hash → start-up stops (the file was edited without a
  new version);
- a declared version above every stored one → it does **not** go live on its own: it
  becomes a proposed ``config_change`` (:func:`propose_shipped`, audited as
  ``config.proposed``) made by ``system:deployment``, backtested and approved by a
  manager like any draft, and start-up goes on with the active version. A start with
  the same file finds that change by its content hash (whatever its state: open,
  approved, rejected) and proposes nothing new; a content equal to the active one
  apart from ``version`` (a definition whose governed settings did not move) proposes
  nothing either.

``definition:<name>`` kinds mirror the catalog: the version new instances start on is
seeded as its configuration version. A definition file above every stored version is held
back by the start-up sync (``Catalog.sync(..., hold_back=held_back)``: pending, not
recorded) and proposed here like a rule file (:func:`propose_pending`); approving it
records it in ``definitions`` and every process promotes it. The settings governed as
``alert_routing`` and ``dd_checklist`` in such a definition are proposed on their own.
"""

from __future__ import annotations

import difflib
import logging
from collections.abc import Mapping
from typing import Any

import yaml
from sqlalchemy import inspect, select
from sqlalchemy.orm import Session

from workflow.engine import firing as engine
from workflow.engine import runtime
from workflow.engine.catalog import Catalog
from workflow.errors import ConfigurationError
from workflow.records import config_versions as versions
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.records.outbox import enqueue
from workflow.risk.governance.definition_kind import definition_kinds
from workflow.risk.governance.kinds import KINDS, Kind, Seed, load_document, validate

log = logging.getLogger(__name__)
STREAM = "system:config"
SEEDER = Actor.system("config")
# the maker of a change proposed by a deployment that ships a newer file
SHIPPER = Actor.system("deployment")
CHANGE_DEFINITION = "config_change"


def seed_kind(
    session: Session, kind: Kind, catalog: Catalog, settings: Mapping[str, Any]
) -> versions.ConfigVersion | None:
    """Store the shipped content of ``kind`` if it is the first version; returns the
    version stored (None: nothing stored, or a newer file proposed as a change).

    Raises:
        ConfigurationError: the shipped declared version is stored (or proposed) with
            another hash, or the shipped content is invalid.
    """
    seed = kind.seed(catalog, settings)
    if seed is None:
        return None
    document, problems = load_document(seed.content, seed.source)
    if problems or seed.version < 1:
        raise ConfigurationError(
            f"{seed.source}: the shipped {kind.name} has no valid version; "
            + "; ".join(p.message for p in problems)
        )
    digest = kind.digest(document, seed.content)
    stored = versions.get_version(session, kind.name, seed.version)
    if stored is not None:
        if stored.content_hash != digest:
            raise _edited(session, kind, seed, stored.content_hash, digest)
        return None
    highest = versions.highest_version(session, kind.name)
    if seed.version <= highest:
        return None  # an older file than the database holds: the database is the source
    try:
        validate(kind, seed.content, seed.source, settings)
    except Exception as exc:
        raise ConfigurationError(f"the shipped {kind.name} is invalid: {exc}") from exc
    if highest and not kind.reseed:
        propose_shipped(session, kind, seed, document, digest)
        return None
    old, new = versions.activate(
        session,
        kind.name,
        seed.version,
        seed.content,
        digest,
        created_by=SEEDER.username,
        approved_by=None,
        seeded=True,
    )
    audit.record_event(
        session,
        STREAM,
        "config.seeded",
        SEEDER,
        payload={
            "kind": kind.name,
            "version": new.version,
            "source": seed.source,
            "content_hash": digest,
            "old_hash": old.content_hash if old else None,
        },
    )
    log.info("%s version %s seeded from %s", kind.name, new.version, seed.source)
    return new


def _edited(
    session: Session, kind: Kind, seed: Seed, stored_hash: str, digest: str
) -> ConfigurationError:
    return ConfigurationError(
        f"{seed.source}: {kind.name} version {seed.version} is stored with content hash "
        f"{stored_hash}, but this file declares the same version with hash "
        f"{digest}. To fix it, raise `version` in the file above "
        f"{max(versions.highest_version(session, kind.name), seed.version)}, or put the file "
        f"back and publish the change through a draft (POST /api/v1/config/{kind.name}/drafts)",
        file=seed.source,
        kind=kind.name,
        version=seed.version,
        stored_hash=stored_hash,
        file_hash=digest,
    )


def shipped_changes(session: Session, kind: str) -> list[WorkflowInstance]:
    """The changes of ``kind`` proposed by deployments, oldest first, in every state."""
    rows = session.execute(
        select(WorkflowInstance)
        .where(
            WorkflowInstance.definition == CHANGE_DEFINITION,
            WorkflowInstance.created_by == SHIPPER.username,
        )
        .order_by(WorkflowInstance.id)
    ).scalars()
    return [row for row in rows if (row.data or {}).get("kind") == kind]


def propose_shipped(
    session: Session, kind: Kind, seed: Seed, document: Any, digest: str
) -> WorkflowInstance | None:
    """File the shipped ``seed`` (declared above every stored version) as a ``config_change``
    made by ``system:deployment``: backtested, then approved by a manager (the caller
    commits). Returns the change, None when one with this content hash exists already or
    the content is the active one apart from its version.

    Raises:
        ConfigurationError: a change proposed from an earlier file declares the same
            version with another content (the file was edited without a new version).
    """
    if CHANGE_DEFINITION not in runtime.of(session).catalog:
        log.error(
            "%s from %s not proposed: %s is not loaded", kind.name, seed.source, CHANGE_DEFINITION
        )
        return None
    base = versions.active(session, kind.name, lock=True)  # one proposal among racing starts
    if base is None:
        return None
    for change in shipped_changes(session, kind.name):
        data = change.data or {}
        if data.get("content_hash") == digest:
            log.info(
                "%s version %s from %s is change %s (%s), not proposed again",
                kind.name,
                seed.version,
                seed.source,
                change.id,
                change.state,
            )
            return None
        if int(data.get("version") or 0) == seed.version and change.is_open:
            raise _edited(session, kind, seed, str(data.get("content_hash")), digest)
    if _without_version(document) == _without_version(yaml.safe_load(base.content)):
        return None  # the file moved its version only (its definition changed elsewhere)
    diff = "".join(
        difflib.unified_diff(
            base.content.splitlines(keepends=True),
            seed.content.splitlines(keepends=True),
            fromfile=f"{kind.name} version {base.version} (active)",
            tofile=f"{kind.name} version {seed.version} (shipped: {seed.source})",
        )
    )
    reason = (
        f"Shipped with the deployment in {seed.source} as version {seed.version}; "
        f"version {base.version} stays active until a manager approves."
    )
    change = engine.start(
        session,
        CHANGE_DEFINITION,
        SHIPPER,
        subject_type="config",
        data={
            "kind": kind.name,
            "version": seed.version,
            "base_version": base.version,
            "base_hash": base.content_hash,
            "content": seed.content,
            "content_hash": digest,
            "diff": diff,
            "reason": reason,
            "backtest": None,
            "shipped_from": seed.source,
        },
        comment=reason,
    )
    enqueue(session, "config_backtest", instance_id=change.id)
    audit.record_event(
        session,
        STREAM,
        "config.proposed",
        SHIPPER,
        payload={
            "kind": kind.name,
            "version": seed.version,
            "source": seed.source,
            "content_hash": digest,
            "change_id": change.id,
            "active_version": base.version,
            "active_hash": base.content_hash,
        },
    )
    log.warning(
        "%s version %s shipped in %s is proposed as change %s; version %s stays active "
        "until a manager approves it",
        kind.name,
        seed.version,
        seed.source,
        change.id,
        base.version,
    )
    return change


def _without_version(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: v for k, v in document.items() if k != "version"}
    return document


def seed_all(session: Session, catalog: Catalog, settings: Mapping[str, Any]) -> list[str]:
    """Seed every kind (the caller commits); returns the kinds that got a version.

    Raises:
        ConfigurationError: see :func:`seed_kind`.
    """
    if not inspect(session.connection()).has_table(versions.ConfigVersion.__tablename__):
        return []
    seeded = [kind.name for kind in KINDS.values() if seed_kind(session, kind, catalog, settings)]
    for kind in definition_kinds(catalog):
        if kind.pending is not None and kind.pending(catalog) is not None:
            if seed_kind(session, kind, catalog, settings):  # the version that runs now
                seeded.append(kind.name)
            propose_pending(session, kind, catalog, settings)
    return seeded


def propose_pending(
    session: Session, kind: Kind, catalog: Catalog, settings: Mapping[str, Any]
) -> WorkflowInstance | None:
    """Propose the newer shipped version the catalog held back for ``kind`` (a definition
    file above every stored version), see :func:`propose_shipped`.

    Raises:
        ConfigurationError: the held-back file does not validate.
    """
    seed = kind.pending(catalog) if kind.pending is not None else None
    if seed is None:
        return None
    try:
        document = validate(kind, seed.content, seed.source, settings)
    except Exception as exc:
        raise ConfigurationError(f"the shipped {kind.name} is invalid: {exc}") from exc
    return propose_shipped(session, kind, seed, document, kind.digest(document, seed.content))
