"""The shipped files as the first versions, and the refusal of a silently edited one.

At start-up (and ``riskloop db upgrade``/``init``) each kind's shipped content is
compared with the database: no version stored → it becomes version N (its declared
``version``), active; a stored version N with the same content hash → nothing; a stored
version N with another hash → start-up stops (the file was edited without a new
version); a declared version above every stored one → it becomes the active version,
as a deployment that ships a new file means it (recorded on the audit trail).
"""

from __future__ import annotations

import logging
from collections.abc import Mapping
from typing import Any

from sqlalchemy import inspect
from sqlalchemy.orm import Session

from workflow.engine.catalog import Catalog
from workflow.errors import ConfigurationError
from workflow.records import config_versions as versions
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.risk.governance.kinds import KINDS, Kind, load_document, validate

log = logging.getLogger(__name__)
STREAM = "system:config"
SEEDER = Actor.system("config")


def seed_kind(
    session: Session, kind: Kind, catalog: Catalog, settings: Mapping[str, Any]
) -> versions.ConfigVersion | None:
    """Store the shipped content of ``kind`` if it is new; returns the version stored.

    Raises:
        ConfigurationError: the shipped declared version is stored with another hash, or
            the shipped content is invalid.
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
            raise ConfigurationError(
                f"{seed.source}: {kind.name} version {seed.version} is stored with content hash "
                f"{stored.content_hash}, but this file declares the same version with hash "
                f"{digest}. To fix it, raise `version` in the file above "
                f"{versions.highest_version(session, kind.name)}, or put the file back and "
                f"publish the change through a draft (POST /api/v1/config/{kind.name}/drafts)",
                file=seed.source,
                kind=kind.name,
                version=seed.version,
                stored_hash=stored.content_hash,
                file_hash=digest,
            )
        return None
    if seed.version <= versions.highest_version(session, kind.name):
        return None  # an older file than the database holds: the database is the source
    try:
        validate(kind, seed.content, seed.source, settings)
    except Exception as exc:
        raise ConfigurationError(f"the shipped {kind.name} is invalid: {exc}") from exc
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


def seed_all(session: Session, catalog: Catalog, settings: Mapping[str, Any]) -> list[str]:
    """Seed every kind (the caller commits); returns the kinds that got a version.

    Raises:
        ConfigurationError: see :func:`seed_kind`.
    """
    if not inspect(session.connection()).has_table(versions.ConfigVersion.__tablename__):
        return []
    return [kind.name for kind in KINDS.values() if seed_kind(session, kind, catalog, settings)]
