"""The kind ``definition:<name>``: a whole workflow definition governed as configuration.

An administrator drafts the definition's YAML; it is validated by the engine's own
parser against the catalog's registry and role policy (file, key, fix), gets the next
version after every one known (files, the ``definitions`` table, earlier drafts), and
its content hash is the engine's (SHA-256 of the text), so the approved hash, the
``definitions`` row and a migration's ``to_hash`` are one value. The backtest is the
dry-run migration plan of the open instances against the candidate. Activation records
the version in ``definitions`` (as a start-up with a new file does, audited as
``definition.loaded``): new instances start on it, in every process within seconds. A
start-up with a newer definition file does not record it: the catalog holds it back
(:func:`held_back`) and it is proposed as a change of this kind (``seeding.py``).
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.engine import runtime
from workflow.engine.catalog import Catalog
from workflow.engine.definitions import Definition, content_hash, parse_definition
from workflow.engine.migration import plan_against
from workflow.errors import Conflict, DefinitionError, Message, shown
from workflow.records import trail as audit
from workflow.records.config_versions import ConfigVersion
from workflow.records.identity import Actor
from workflow.records.models import DefinitionRecord
from workflow.risk.governance.kinds import Kind, Problem, Seed

PREFIX = "definition:"
DRAFTERS = frozenset({"admin"})
# The workflow that publishes configuration is not configuration: a version of it could
# drop the maker-is-not-checker guard that reviews the very change.
NOT_GOVERNED = frozenset({"config_change"})
# instances listed one by one in a backtest report (all are counted)
REPORT_INSTANCES = 500


def is_definition_kind(name: str) -> bool:
    return name.startswith(PREFIX)


def definition_name(kind: str) -> str:
    return kind[len(PREFIX) :]


def compile_candidate(catalog: Catalog, kind: str, content: str, source: str) -> Definition:
    """Raises:
    DefinitionError: every problem (file, key, fix) in its ``problems``, another
        definition's name among them."""
    try:
        definition = parse_definition(content, source, catalog.registry, catalog.policy)
    except DefinitionError as exc:
        found = list(exc.problems)
        name = _name_in(content)
    else:
        found, name = [], definition.name
    if name is not None and name != definition_name(kind):
        found.insert(
            0,
            DefinitionError(
                source,
                "name",
                Message(
                    "definition.other_name",
                    f"is {name!r}; a draft of {kind} keeps name: {definition_name(kind)}",
                    name=shown(name),
                    expected=definition_name(kind),
                ),
            ),
        )
    if found:
        raise DefinitionError.collected(found)
    return definition


def _name_in(content: str) -> Any:
    """The ``name`` a draft gives (None: it gives none, or does not parse)."""
    try:
        document = yaml.safe_load(content)
    except yaml.YAMLError:
        return None
    return document.get("name") if isinstance(document, dict) else None


def _check(catalog: Catalog, kind: str) -> Any:
    def check(document: Any, source: str, _settings: Mapping[str, Any]) -> list[Problem]:
        text = yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
        try:
            compile_candidate(catalog, kind, text, source)
        except DefinitionError as exc:
            return [Problem(p.file, p.key, p.fix) for p in exc.problems]
        return []

    return check


def _seed(name: str) -> Any:
    def seed(catalog: Catalog, _settings: Mapping[str, Any]) -> Seed | None:
        if name not in catalog:
            return None
        latest = catalog.get(name)
        return Seed(latest.file, latest.version, latest.source)

    return seed


def _pending(name: str) -> Any:
    def pending(catalog: Catalog) -> Seed | None:
        held = catalog.pending(name)
        return None if held is None else Seed(held.file, held.version, held.source)

    return pending


def held_back(name: str) -> bool:
    """Whether a start-up holds a newer file of definition ``name`` back for approval
    (every governed definition; ``config_change`` changes with a release)."""
    return name not in NOT_GOVERNED


def _digest(_document: Any, content: str) -> str:
    return content_hash(content.encode("utf-8"))


def _known_version(name: str) -> Any:
    def known(session: Session) -> int:
        stored = session.execute(
            select(func.coalesce(func.max(DefinitionRecord.version), 0)).where(
                DefinitionRecord.name == name
            )
        ).scalar_one()
        loaded = [d.version for d in runtime.of(session).catalog.versions(name)]
        return max([int(stored), *loaded])

    return known


def _activate(session: Session, row: ConfigVersion, actor: Actor) -> dict[str, Any]:
    """Record the approved version in ``definitions`` (audited as a loaded definition).

    Raises:
        Conflict: that version of the definition exists already (draft again).
    """
    catalog = runtime.of(session).catalog
    definition = compile_candidate(
        catalog, row.kind, row.content, f"{row.kind}@v{row.version} (config_versions)"
    )
    try:
        catalog.record(session, definition)
    except DefinitionError as exc:
        raise Conflict(
            f"{row.kind} version {row.version} exists already; draft the change again",
            code="config.stale_draft",
            params={"kind": row.kind, "draft_version": row.version},
        ) from exc
    audit.record_event(
        session,
        "system:definitions",
        "definition.loaded",
        actor,
        payload={
            "name": definition.name,
            "version": definition.version,
            "content_hash": definition.content_hash,
            "config_version_id": row.id,
        },
    )
    return {"definition": definition.name, "definition_version": definition.version}


def definition_kind(catalog: Catalog, kind: str) -> Kind | None:
    """The kind ``definition:<name>`` of a loaded definition (None: no such definition, or
    ``config_change`` itself, which changes only with a release)."""
    name = definition_name(kind)
    if not is_definition_kind(kind) or name not in catalog or name in NOT_GOVERNED:
        return None
    return Kind(
        kind,
        _check(catalog, kind),
        _seed(name),
        digest=_digest,
        known_version=_known_version(name),
        on_activate=_activate,
        reseed=True,
        pending=_pending(name),
    )


def definition_kinds(catalog: Catalog) -> list[Kind]:
    """One kind per loaded definition, by name."""
    return [k for d in catalog.latest() if (k := definition_kind(catalog, PREFIX + d.name))]


def backtest_definition(
    session: Session, kind: str, content: bytes, progress: Any = None
) -> dict[str, Any]:
    """The dry-run migration of the open instances to the candidate, and what changes in
    its states; reads only.

    Raises:
        ValueError: the candidate does not compile.
    """
    catalog = runtime.of(session).catalog
    try:
        candidate = compile_candidate(catalog, kind, content.decode("utf-8"), f"candidate {kind}")
    except DefinitionError as exc:
        raise ValueError(str(exc)) from exc
    active = catalog.get(candidate.name)
    report = plan_against(session, candidate, progress=progress).to_dict()
    items = report.pop("instances")
    return {
        "migration": {
            **report,
            "instances_total": len(items),
            "instances": items[:REPORT_INSTANCES],
        },
        "states": _state_changes(active, candidate),
    }


def _state_changes(active: Definition, candidate: Definition) -> dict[str, Any]:
    def sla(d: Definition, state: str) -> int | None:
        """The state's SLA in seconds (None: it has none)."""
        spec = d.states[state].sla
        return None if spec is None else int(spec.total_seconds())

    kept = sorted(set(active.states) & set(candidate.states))
    return {
        "from_version": active.version,
        "added": sorted(set(candidate.states) - set(active.states)),
        "removed": sorted(set(active.states) - set(candidate.states)),
        "sla_changed": {
            s: {"from": sla(active, s), "to": sla(candidate, s)}
            for s in kept
            if sla(active, s) != sla(candidate, s)
        },
    }
