"""Publishing configuration under four eyes: the ``config_change`` workflow.

``draft_change`` validates a draft (every problem, file/key/fix), gives it the next
version of its kind, and starts a ``config_change`` instance in ``backtesting`` whose data
holds the content, its hash, the unified diff against the active version and the
reason (``check_draft`` is that validation and diff alone, storing nothing: the
console's live check); the backtest runs as an outbox task (``config_backtest``) and
moves the change to ``awaiting_approval`` with the report and its hash (or keeps it in
``backtesting``, unpublishable, with the reason); on SQLite the backtest reads a snapshot
without the write lock and the outcome is stored by a short write transaction at the
end. A manager other than the maker approves the exact content hash
(``activate_config``): the version becomes active in the same transaction, and the
audit trail gets maker, checker, both hashes and the backtest hash.
"""

from __future__ import annotations

import difflib
import logging
from dataclasses import dataclass
from typing import Any

import yaml
from sqlalchemy.orm import Session

from workflow.engine import firing as engine
from workflow.engine import runtime
from workflow.engine.catalog import Catalog
from workflow.engine.context import FireContext, TaskContext
from workflow.engine.registry import Registry
from workflow.errors import Conflict, Forbidden, Message, NotFound, ValidationFailed
from workflow.platform.db import keeps_snapshots, read_only_session
from workflow.records import config_versions as versions
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.records.outbox import enqueue
from workflow.risk.governance.backtest import BacktestFailed, run_backtest
from workflow.risk.governance.definition_kind import (
    DRAFTERS as DEFINITION_DRAFTERS,
)
from workflow.risk.governance.definition_kind import (
    definition_kind,
    definition_kinds,
    is_definition_kind,
)
from workflow.risk.governance.kinds import (
    KINDS,
    InvalidDraft,
    Kind,
    content_hash,
    stamp_version,
    validate,
)
from workflow.risk.governance.progress import Reporter
from workflow.risk.governance.seeding import STREAM, seed_kind

registry = Registry()
log = logging.getLogger(__name__)

DEFINITION = "config_change"
DRAFTER_ROLES = frozenset({"risk_officer"})
READER_ROLES = frozenset({"risk_officer", "manager", "auditor", "admin"})
BACKTEST_ACTOR = Actor.system("backtest")


def all_kinds(catalog: Catalog) -> list[Kind]:
    """The fixed kinds, then ``definition:<name>`` for each loaded definition."""
    return [*KINDS.values(), *definition_kinds(catalog)]


def kind_named(name: str, catalog: Catalog) -> Kind:
    """Raises:
    NotFound: no such kind (the known ones are named)."""
    kind = KINDS.get(name) or definition_kind(catalog, name)
    if kind is None:
        known = [k.name for k in all_kinds(catalog)]
        raise NotFound(
            f"no configuration kind {name!r}; the kinds are {', '.join(known)}",
            code="config.unknown_kind",
            params={"kind": name, "kinds": known},
        )
    return kind


def drafters(kind: str) -> frozenset[str]:
    """Who drafts ``kind``: administrators a workflow definition, risk officers the rest."""
    return DEFINITION_DRAFTERS if is_definition_kind(kind) else DRAFTER_ROLES


def may_read(actor: Actor) -> None:
    """Raises:
    Forbidden: a role that does not read governed configuration."""
    if not actor.has_any(READER_ROLES):
        raise Forbidden(
            f"reading configuration needs one of the roles {', '.join(sorted(READER_ROLES))}",
            rule="role",
            code="role.required",
            params={"roles": sorted(READER_ROLES)},
        )


def may_draft(actor: Actor, kind: str, catalog: Catalog) -> Kind:
    """The kind ``actor`` may draft (checked before the body is read).

    Raises:
        Forbidden: not a risk officer (an administrator for ``definition:<name>``).
        NotFound: no such kind.
    """
    roles = drafters(kind)
    if not actor.has_any(roles):
        raise Forbidden(
            f"drafting {kind} needs the role {', '.join(sorted(roles))}",
            rule="role",
            code="role.required",
            params={"roles": sorted(roles)},
        )
    return kind_named(kind, catalog)


def current(session: Session, kind: Kind) -> versions.ConfigVersion:
    """The active version of ``kind``, seeding the shipped one first if none is stored.

    Raises:
        NotFound: the kind's source definition is not loaded.
    """
    row = versions.active(session, kind.name)
    if row is None or kind.reseed:
        rt = runtime.of(session)
        row = seed_kind(session, kind, rt.catalog, rt.settings) or row
    if row is None:
        raise NotFound(f"{kind.name} has no active version", code="config.no_version")
    return row


def draft_change(
    session: Session,
    kind_name: str,
    content: str,
    reason: str,
    actor: Actor,
    *,
    request_id: str | None = None,
) -> WorkflowInstance:
    """File a draft of ``kind_name`` for backtest and approval (the caller commits).

    Raises:
        Forbidden: not a risk officer (an administrator for ``definition:<name>``).
        NotFound: no such kind.
        ValidationFailed: no reason; ``InvalidDraft``: the content does not validate
            (``errors['content']`` lists every problem with file, key and message).
    """
    kind = may_draft(actor, kind_name, runtime.of(session).catalog)
    if not reason.strip():
        raise ValidationFailed(
            "say why the configuration changes",
            errors={"reason": [Message("field.reason_required", "A reason is required.")]},
        )
    preview = check_draft(session, kind, content)
    if preview.invalid is not None:
        raise preview.invalid
    if preview.unchanged:
        raise ValidationFailed(
            f"the draft is the active {kind.name} (version {preview.base.version}) unchanged; "
            "change something or leave it",
            errors={"content": [Message("config.unchanged", "Nothing changes.")]},
        )
    base, version, stamped = preview.base, preview.version, preview.content
    instance = engine.start(
        session,
        DEFINITION,
        actor,
        subject_type="config",
        data={
            "kind": kind.name,
            "version": version,
            "base_version": base.version,
            "base_hash": base.content_hash,
            "content": stamped,
            "content_hash": preview.content_hash,
            "diff": preview.diff,
            "reason": reason.strip(),
            "backtest": None,
        },
        comment=reason.strip(),
        request_id=request_id,
    )
    enqueue(session, "config_backtest", instance_id=instance.id)
    log.info("config change %s drafted: %s version %s", instance.id, kind.name, version)
    return instance


@dataclass(frozen=True)
class DraftCheck:
    """What a draft would be, found without storing anything: why it does not validate
    (``invalid``, None when it does), whether it changes nothing, and the version it would
    get, its stamped content, hash and unified diff against the active version."""

    base: versions.ConfigVersion
    version: int
    content: str
    invalid: InvalidDraft | None = None  # every problem in ``errors['content']``
    unchanged: bool = False
    content_hash: str | None = None
    diff: str = ""

    @property
    def problems(self) -> list[dict[str, Any]]:
        """Every problem (``file``, ``key``, ``message``, ``code``, ``params``); empty for a
        valid draft."""
        if self.invalid is None:
            return []
        return list((self.invalid.extra.get("errors") or {}).get("content") or [])


def check_draft(session: Session, kind: Kind, content: str) -> DraftCheck:
    """Validate ``content`` as a draft of ``kind`` exactly as filing does and diff it
    against the active version: no version, case or audit record is written (the
    shipped version is seeded first when none is stored, as every read does)."""
    base = current(session, kind)
    version = versions.highest_version(session, kind.name) + 1
    if kind.known_version is not None:
        version = max(version, kind.known_version(session) + 1)
    stamped = stamp_version(content, version)
    source = f"{kind.name} draft (version {version})"
    diff = "".join(
        difflib.unified_diff(
            base.content.splitlines(keepends=True),
            stamped.splitlines(keepends=True),
            fromfile=f"{kind.name} version {base.version} (active)",
            tofile=f"{kind.name} version {version} (draft)",
        )
    )
    try:
        document = validate(kind, stamped, source, runtime.of(session).settings)
    except InvalidDraft as exc:
        return DraftCheck(base, version, stamped, invalid=exc, diff=diff)
    unchanged = _without_version(document) == _without_version(yaml.safe_load(base.content))
    return DraftCheck(
        base,
        version,
        stamped,
        unchanged=unchanged,
        content_hash=kind.digest(document, stamped),
        diff=diff,
    )


def _without_version(document: Any) -> Any:
    if isinstance(document, dict):
        return {k: v for k, v in document.items() if k != "version"}
    return document


@registry.task("config_backtest")
def config_backtest(ctx: TaskContext) -> None:
    """Backtest the change's content and move it on (a no-op once it left backtesting).

    On PostgreSQL the backtest reads in the task's transaction. On SQLite (a file database
    in WAL mode) the task's transaction would hold the write lock all along: it ends at
    once, the backtest reads a snapshot on a read-only connection of its own, and the
    outcome is stored by a short write transaction at the end (progress.py)."""
    if ctx.instance is None or ctx.instance.state != "backtesting":
        return
    instance_id = ctx.instance.id
    data = ctx.instance.data or {}
    kind, content = data["kind"], str(data["content"]).encode("utf-8")
    if keeps_snapshots(ctx.session):
        reporter = Reporter(ctx.session, instance_id, live=True, heartbeat=ctx.outbox_id)
        reporter.beat(ctx.session)
        ctx.session.commit()  # nothing written yet: this lets go of the write lock
        outcome = _backtest_reading(ctx.session, kind, content, reporter)
        ctx.session.refresh(ctx.instance)  # the final write transaction begins here
        if ctx.instance.state != "backtesting":  # withdrawn meanwhile, or run twice
            return
    else:  # PostgreSQL's progress is written at once anyway; SQLite without WAL cannot
        reporter = Reporter(ctx.session, instance_id)
        outcome = _backtest(ctx.session, kind, content, reporter)
    if isinstance(outcome, BacktestFailed):
        engine.fire(
            ctx.session,
            instance_id,
            "backtest_failed",
            BACKTEST_ACTOR,
            {"reason": str(outcome)[:2000], "progress": reporter.last},
        )
        return
    engine.fire(
        ctx.session,
        instance_id,
        "backtested",
        BACKTEST_ACTOR,
        {"backtest": outcome, "backtest_hash": content_hash(outcome), "progress": reporter.last},
    )


def _backtest(
    session: Session, kind: str, content: bytes, reporter: Reporter
) -> dict[str, Any] | BacktestFailed:
    try:
        return run_backtest(session, kind, content, progress=reporter)
    except BacktestFailed as exc:
        return exc


def _backtest_reading(
    session: Session, kind: str, content: bytes, reporter: Reporter
) -> dict[str, Any] | BacktestFailed:
    with read_only_session(session) as reader:
        return _backtest(reader, kind, content, reporter)


@registry.effect("record_backtest")
def record_backtest(ctx: FireContext) -> None:
    """Keep the report and its hash on the change (what the checker reads)."""
    ctx.instance.data = {
        **ctx.instance.data,
        "backtest": {
            "report": ctx.payload["backtest"],
            "hash": ctx.payload["backtest_hash"],
            "progress": ctx.payload.get("progress"),
        },
    }
    ctx.audit["backtest_hash"] = ctx.payload["backtest_hash"]


@registry.effect("record_backtest_failure")
def record_backtest_failure(ctx: FireContext) -> None:
    """Keep why the backtest failed: the change stays unpublishable."""
    ctx.instance.data = {
        **ctx.instance.data,
        "backtest": {"failed": ctx.payload["reason"], "progress": ctx.payload.get("progress")},
    }
    ctx.audit["backtest_failed"] = ctx.payload["reason"]


@registry.effect("activate_config")
def activate_config(ctx: FireContext) -> None:
    """Make the approved content the active version of its kind.

    Raises:
        Conflict: the hash approved is not the change's content hash, or another version
            of the kind became active since the draft (draft again).
    """
    data = ctx.instance.data
    if ctx.payload.get("content_hash") != data["content_hash"]:
        raise Conflict(
            f"the content hash approved ({ctx.payload.get('content_hash')}) is not this "
            f"change's content hash ({data['content_hash']}); read the change again and "
            "approve what it holds",
            code="config.hash_mismatch",
            params={"content_hash": data["content_hash"]},
        )
    backtest = data.get("backtest") or {}
    old, new = versions.activate(
        ctx.session,
        data["kind"],
        int(data["version"]),
        data["content"],
        data["content_hash"],
        created_by=ctx.instance.created_by,
        approved_by=ctx.actor.username,
        change_id=ctx.instance.id,
        # a shipped file keeps the version it declares, proposed against the active one
        seeded=bool(data.get("shipped_from")),
        after=int(data["base_version"]) if data.get("shipped_from") else None,
    )
    kind = KINDS.get(new.kind) or definition_kind(runtime.of(ctx.session).catalog, new.kind)
    published = kind.on_activate(ctx.session, new, ctx.actor) if kind and kind.on_activate else {}
    record = {
        **published,
        "kind": new.kind,
        "version": new.version,
        "change_id": ctx.instance.id,
        "maker": ctx.instance.created_by,
        "checker": ctx.actor.username,
        "old_version": old.version if old else None,
        "old_hash": old.content_hash if old else None,
        "new_hash": new.content_hash,
        "backtest_hash": backtest.get("hash"),
        **({"shipped_from": data["shipped_from"]} if data.get("shipped_from") else {}),
    }
    audit.record_event(ctx.session, STREAM, "config.activated", ctx.actor, payload=record)
    ctx.audit["activated"] = record
    ctx.instance.data = {**data, "activated_version": new.version}
