"""The loaded definitions, every version, each compiled once and shared.

Files are the source of new versions; the database keeps every version ever
loaded so instances started on an old version keep running after the file moves
on. Changing a file without raising its version is refused (content hash check).
"""

from __future__ import annotations

import logging
from pathlib import Path

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine.definitions import Definition, load_folder, parse_definition
from workflow.engine.policy import RolePolicy
from workflow.engine.registry import Registry
from workflow.errors import DefinitionError, NotFound
from workflow.records.models import DefinitionRecord

log = logging.getLogger(__name__)


class Catalog:
    def __init__(self, registry: Registry, policy: RolePolicy) -> None:
        self.registry = registry
        self.policy = policy
        self._versions: dict[tuple[str, int], Definition] = {}
        self._latest: dict[str, Definition] = {}

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

    def sync(self, session: Session) -> list[Definition]:
        """Record new versions in the database and load old ones kept there.

        Returns the definitions newly recorded (for the audit trail).

        Raises:
            DefinitionError: a file changed without raising its version.
        """
        stored = {
            (r.name, r.version): r for r in session.execute(select(DefinitionRecord)).scalars()
        }
        added = []
        for key, definition in sorted(self._versions.items()):
            record = stored.get(key)
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
        session.flush()
        return added

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
