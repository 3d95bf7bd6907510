"""The loaded definitions, every version, each compiled once and shared.

Files are the source of new versions; the database keeps every version ever
loaded so instances started on an old version keep running after the file moves
on. Changing a file without raising its version is refused (content hash check).

A start-up may hold new file versions back (``sync(..., hold_back=...)``, the app's
start-up): a file version above every stored version of a definition that has stored
versions is **pending** — compiled, but neither recorded nor the latest, so new instances
keep starting on the stored one — until it is recorded (:meth:`Catalog.record`, e.g. when a
manager approves it as a governed change); every process then promotes it when it loads
the new row. A definition with no stored version (the first start) is recorded as before.

A version may also be recorded at run time (:meth:`Catalog.record`, e.g. a definition
published under four eyes). Every process finds versions it does not have: at the start
of a transaction, at most every :data:`CHECK_SECONDS`, a session bound to a runtime
compares the highest ``definitions`` row id with the one its catalog last saw and loads
the new rows (:meth:`Catalog.load_records`). A commit that recorded a version makes the
next transaction look at once.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Iterable
from pathlib import Path
from typing import Any

from sqlalchemy import event, func, select
from sqlalchemy.engine import Connection
from sqlalchemy.orm import Session

from workflow.engine.definitions import Definition, load_folder, parse_definition
from workflow.engine.policy import RolePolicy
from workflow.engine.registry import Registry
from workflow.errors import DefinitionError, NotFound
from workflow.platform import lean
from workflow.platform.db import RUNTIME_KEY
from workflow.records.models import DefinitionRecord

log = logging.getLogger(__name__)
CHECK_SECONDS = 2.0
_RECORDED = "riskloop.definition_recorded"


class Catalog:
    def __init__(self, registry: Registry, policy: RolePolicy) -> None:
        self.registry = registry
        self.policy = policy
        self._versions: dict[tuple[str, int], Definition] = {}
        self._latest: dict[str, Definition] = {}
        self._from_database: set[tuple[str, int]] = set()
        self._lock = threading.Lock()
        self._synced = False  # the definitions table exists and was compared once
        self._marker: int | None = None
        self._checked_at = float("-inf")
        self._failed: set[int] = set()
        self._pending: set[tuple[str, int]] = set()

    def add(self, definition: Definition) -> None:
        self._versions[(definition.name, definition.version)] = definition
        latest = self._latest.get(definition.name)
        if latest is None or definition.version > latest.version:
            self._latest[definition.name] = definition

    def load_folder(self, folder: Path) -> list[Definition]:
        """Parse and add every definition in ``folder``.

        Raises:
            DefinitionError: naming the file and key of the first problem.
        """
        loaded = load_folder(folder, self.registry, self.policy)
        for definition in loaded:
            self.add(definition)
        return loaded

    def shipped(self, name: str) -> Definition:
        """The latest version of ``name`` this process was given (a file, not the database;
        the latest at all when every one came from the database).

        Raises:
            NotFound: no such definition."""
        given = [d for d in self.versions(name) if (d.name, d.version) not in self._from_database]
        return given[-1] if given else self.get(name)

    def sync(
        self, session: Session, *, hold_back: Callable[[str], bool] | None = None
    ) -> list[Definition]:
        """Record new versions in the database and load old ones kept there; a file version
        above every stored version of a definition ``hold_back`` names stays pending (see
        :meth:`pending`) instead.

        Returns the definitions newly recorded (for the audit trail).

        Raises:
            DefinitionError: a file changed without raising its version.
        """
        stored = {
            (r.name, r.version): r for r in session.execute(select(DefinitionRecord)).scalars()
        }
        highest: dict[str, int] = {}
        for name, version in stored:
            highest[name] = max(version, highest.get(name, 0))
        added = []
        for key, definition in sorted(self._versions.items()):
            record = stored.get(key)
            if record is None and key in self._pending:
                continue
            above = key[1] > highest.get(key[0], key[1])
            if record is None and above and hold_back is not None and hold_back(key[0]):
                self._pending.add(key)
                continue
            if record is None:
                session.add(
                    DefinitionRecord(
                        name=definition.name,
                        version=definition.version,
                        content_hash=definition.content_hash,
                        source=definition.source,
                    )
                )
                added.append(definition)
            elif record.content_hash != definition.content_hash:
                raise DefinitionError(
                    definition.file,
                    "version",
                    f"{definition.name} v{definition.version} changed since it was loaded "
                    f"(content hash {record.content_hash[:12]}… → {definition.content_hash[:12]}…); "
                    f"raise version to {self.max_version(definition.name, stored) + 1} to publish the change",
                )
        for key, record in stored.items():
            if key not in self._versions:
                self.add(
                    parse_definition(
                        record.source,
                        f"{record.name}@v{record.version} (database)",
                        self.registry,
                        self.policy,
                    )
                )
                self._from_database.add(key)
        self._pending -= set(stored)
        for name in {name for name, _ in self._pending}:
            kept = [d for d in self.versions(name) if (d.name, d.version) not in self._pending]
            self._latest[name] = kept[-1]
        session.flush()
        self._synced = True
        return added

    def is_pending(self, definition: Definition) -> bool:
        """Whether ``definition`` is a file version held back at start-up."""
        return (definition.name, definition.version) in self._pending

    def pending(self, name: str) -> Definition | None:
        """The highest file version of ``name`` held back at start-up (None: none)."""
        held = [d for d in self.versions(name) if (d.name, d.version) in self._pending]
        return held[-1] if held else None

    def load_records(self, records: Iterable[DefinitionRecord]) -> list[Definition]:
        """Compile and add the stored versions among ``records`` this catalog lacks; a
        version that no longer compiles here (a guard this process does not know) is
        logged and skipped, so it cannot stop every transaction."""
        added = []
        for record in records:
            key = (record.name, record.version)
            if key in self._pending:  # recorded (approved) elsewhere: it is the latest now
                self._pending.discard(key)
                self.add(self._versions[key])
                added.append(self._versions[key])
                log.info("definition %s v%s released from pending", *key)
                continue
            if key in self._versions or record.id in self._failed:
                continue
            try:
                definition = parse_definition(
                    record.source,
                    f"{record.name}@v{record.version} (database)",
                    self.registry,
                    self.policy,
                )
            except DefinitionError as exc:
                self._failed.add(record.id)
                log.error(
                    "stored definition %s v%s not loaded: %s", record.name, record.version, exc
                )
                continue
            self.add(definition)
            self._from_database.add((definition.name, definition.version))
            added.append(definition)
            log.info("definition %s v%s loaded from the database", record.name, record.version)
        return added

    def due(self) -> bool:
        """Whether :meth:`refresh` would look now (it looks again, under its lock)."""
        return self._synced and time.monotonic() - self._checked_at >= CHECK_SECONDS

    def refresh(self, connection: Connection, *, force: bool = False) -> list[Definition]:
        """Load the versions recorded since this catalog last looked (every
        :data:`CHECK_SECONDS` at most, unless ``force``)."""
        now = time.monotonic()
        if not self._synced or (not force and now - self._checked_at < CHECK_SECONDS):
            return []
        with self._lock:
            if not force and now - self._checked_at < CHECK_SECONDS:
                return []  # another thread looked meanwhile
            self._checked_at = now
            marker = connection.execute(
                select(func.coalesce(func.max(DefinitionRecord.id), 0))
            ).scalar_one()
            if marker == self._marker:
                return []
            rows = connection.execute(
                select(DefinitionRecord.__table__).where(DefinitionRecord.id > (self._marker or 0))
            ).all()
            added = self.load_records(rows)  # type: ignore[arg-type]
            self._marker = marker
            return added

    def expire(self) -> None:
        """Look for new versions at the next transaction."""
        self._checked_at = float("-inf")

    def record(self, session: Session, definition: Definition) -> DefinitionRecord:
        """Store ``definition`` as a new version (the caller commits); this process loads
        it when the commit is done, the others within :data:`CHECK_SECONDS`.

        Raises:
            DefinitionError: the version is stored already.
        """
        stored = session.execute(
            select(DefinitionRecord.id).where(
                DefinitionRecord.name == definition.name,
                DefinitionRecord.version == definition.version,
            )
        ).first()
        key = (definition.name, definition.version)
        held = key in self._pending and self._versions[key].content_hash == definition.content_hash
        if stored is not None or (key in self._versions and not held):
            raise DefinitionError(
                definition.file,
                "version",
                f"{definition.name} v{definition.version} exists already; "
                f"use version {self.max_version(definition.name, {}) + 1}",
            )
        row = DefinitionRecord(
            name=definition.name,
            version=definition.version,
            content_hash=definition.content_hash,
            source=definition.source,
        )
        session.add(row)
        session.flush()
        session.info.setdefault(_RECORDED, set()).add(id(self))
        return row

    def max_version(self, name: str, stored: dict[tuple[str, int], DefinitionRecord]) -> int:
        return max([v for (n, v) in list(stored) + list(self._versions) if n == name] or [0])

    def get(self, name: str, version: int | None = None) -> Definition:
        """Raises:
        NotFound: no such definition or version."""
        definition = (
            self._latest.get(name) if version is None else self._versions.get((name, version))
        )
        if definition is None:
            what = name if version is None else f"{name} v{version}"
            raise NotFound(f"no workflow definition {what}; see GET /api/v1/definitions")
        return definition

    def latest(self) -> list[Definition]:
        return sorted(self._latest.values(), key=lambda d: d.name)

    def versions(self, name: str) -> list[Definition]:
        return sorted(
            (d for (n, _), d in self._versions.items() if n == name), key=lambda d: d.version
        )

    def __contains__(self, name: str) -> bool:
        return name in self._latest


def _catalog_of(session: Session) -> Catalog | None:
    found: Any = getattr(session.info.get(RUNTIME_KEY), "catalog", None)
    return found if isinstance(found, Catalog) else None


@event.listens_for(Session, "after_begin")
def _look_for_new_versions(session: Session, _transaction: Any, connection: Any) -> None:
    catalog = _catalog_of(session)
    if catalog is not None and catalog.due():
        catalog.refresh(lean.core_of(connection))


@event.listens_for(Session, "after_commit")
def _recorded(session: Session) -> None:
    if session.info.pop(_RECORDED, None):
        catalog = _catalog_of(session)
        if catalog is not None:
            catalog.expire()


@event.listens_for(Session, "after_rollback")
def _not_recorded(session: Session) -> None:
    session.info.pop(_RECORDED, None)
