"""A configuration change's backtest as the console shows it: waiting, running (done of
total, the phase), failed (the reason; the draft cannot be published), or finished (the
report and its hash).

The progress is the API's (``progress.of_change``, what ``GET
/api/v1/config/changes/{id}/progress`` answers); the report and its hash, or the
failure, are what the ``config_change`` case keeps in ``data.backtest``. The case page
shows it and, while it is not finished, polls ``/config/changes/<id>/backtest`` for it.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

import yaml
from flask_babel import gettext as _
from sqlalchemy.orm import Session

from workflow.engine import migration, runtime
from workflow.records.models import WorkflowInstance
from workflow.risk.due_diligence.review import DEFINITION as DUE_DILIGENCE
from workflow.risk.governance import progress
from workflow.risk.governance.active import active_monitoring_rules
from workflow.risk.governance.overlay import governed_settings

from .i18n import label, state_label

DEFINITION = progress.DEFINITION
# waiting: filed, no chunk reported yet; running: chunks reported; the others are final
POLLED = frozenset({"waiting", "running"})
SEGMENTS = ("ownership_type", "industry", "region", "rating")
MIGRATION_REASONS = migration.REASONS


@dataclass(frozen=True)
class BacktestView:
    """What the console shows of one change's backtest."""

    change_id: int
    kind: str
    status: str  # waiting | running | failed | done | stopped
    done: int
    total: int
    report: dict[str, Any] | None = None
    report_hash: str | None = None
    reason: str | None = None
    # words of the codes the report names, from the draft and the active version: a
    # checklist's items (dd_checklist), a workflow definition's states (definition:<name>)
    words: Mapping[str, Any] = field(default_factory=dict)
    # a workflow's states in words: the draft's definition, or due_diligence's (dd_checklist)
    state_words: Mapping[str, Any] = field(default_factory=dict)

    @property
    def polled(self) -> bool:
        """Whether the page asks again (the backtest has not finished)."""
        return self.status in POLLED

    @property
    def percent(self) -> int:
        if self.status == "done":
            return 100
        return min(100, self.done * 100 // self.total) if self.total else 0

    @property
    def phase(self) -> str:
        """The step the backtest is at, in words."""
        if self.status == "waiting":
            return _("Waiting for a worker to start the backtest")
        if self.status == "failed":
            return _("Failed")
        if self.status == "done":
            return _("Finished")
        if self.status == "stopped":
            return _("Withdrawn before the backtest finished")
        if self.kind.startswith("definition:"):
            return _("Planning the migration of the open cases")
        return {
            "rule_set": _("Re-rating the clients"),
            "monitoring_rules": _("Replaying the risk events"),
            "alert_routing": _("Routing the open alerts"),
            "dd_checklist": _("Checking the open due-diligence cases"),
        }.get(self.kind, _("Replaying the history"))

    @property
    def segments(self) -> tuple[str, ...]:
        return SEGMENTS

    @property
    def rating_moves(self) -> list[tuple[str, str, int]]:
        """A rule set's rating moves (``"A->S": 2``) as (from, to, clients), most first."""
        moves = []
        for move, count in ((self.report or {}).get("rating_moves") or {}).items():
            before, _sep, after = str(move).partition("->")
            moves.append((before, after, int(count)))
        return sorted(moves, key=lambda m: (-m[2], m[0], m[1]))

    def segment_rows(self, segment: str) -> list[tuple[str, int, int]]:
        """A segment's values that hold a client that moves, as (value, clients, changed),
        most changed first."""
        values = ((self.report or {}).get("segments") or {}).get(segment) or {}
        rows = [
            (str(value), int(c.get("clients", 0)), int(c.get("changed", 0)))
            for value, c in values.items()
            if int(c.get("changed", 0))
        ]
        return sorted(rows, key=lambda r: (-r[2], r[0]))

    def sides(self, key: str) -> list[tuple[str, int, int]]:
        """A monitoring report's ``key`` (``by_level``, ``by_rule`` …) under the active
        version and the draft, as (value, active, draft), by value."""
        report = self.report or {}
        active = (report.get("active") or {}).get(key) or {}
        candidate = (report.get("candidate") or {}).get(key) or {}
        return [
            (str(k), int(active.get(k, 0)), int(candidate.get(k, 0)))
            for k in sorted(set(active) | set(candidate))
        ]

    def pairs(self, key: str) -> list[tuple[str, int, int]]:
        """A routing report's ``per_person`` or ``per_role`` as (who, active, draft), the
        most loaded under the draft first."""
        found = (self.report or {}).get(key) or {}
        rows = [
            (str(k), int(v.get("active", 0)), int(v.get("candidate", 0))) for k, v in found.items()
        ]
        return sorted(rows, key=lambda r: (-r[2], -r[1], r[0]))

    @property
    def blocked_reasons(self) -> list[tuple[str, int]]:
        """A definition's migration plan: why cases cannot move, as (reason, cases)."""
        counts = ((self.report or {}).get("migration") or {}).get("counts") or {}
        return [(r, int(counts[r])) for r in MIGRATION_REASONS if counts.get(r)]

    def rule_title(self, rule_id: str) -> str:
        """A monitoring rule's title (the draft's, else the active version's; "" unknown)."""
        return label(self.words.get(rule_id), "")

    def item_label(self, item: str) -> str:
        """A due-diligence checklist item in words (the draft's, else the active one's)."""
        return label(self.words.get(item), item)

    def state_name(self, state: str | None) -> str:
        """A workflow definition's state in words (the draft's label, else the active
        version's)."""
        if not state:
            return "—"
        return label(self.state_words.get(state), state)


def _checklist_words(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    catalog = runtime.of(session).catalog
    active = governed_settings(session, "dd_checklist", catalog.get(DUE_DILIGENCE).settings)
    words = dict(active.get("checklist") or {})
    draft = _document(data)
    settings = draft.get("settings") if isinstance(draft.get("settings"), Mapping) else draft
    words.update((settings or {}).get("checklist") or {})
    return words


def _state_words(session: Session, name: str, data: Mapping[str, Any] | None) -> dict[str, Any]:
    """``name``'s states in words: the active version's, then the draft's labels."""
    catalog = runtime.of(session).catalog
    words: dict[str, Any] = {}
    if name in catalog:
        active = catalog.get(name)
        words = {s: state_label(active, s) for s in active.states}
    states = _document(data).get("states") if data is not None else None
    for state, spec in (states if isinstance(states, Mapping) else {}).items():
        if isinstance(spec, Mapping) and spec.get("label"):
            words[str(state)] = spec["label"]
    return words


def _rule_words(session: Session, data: Mapping[str, Any]) -> dict[str, Any]:
    """Monitoring rules' titles by id: the active version's, then the draft's."""
    words: dict[str, Any] = {
        rule.id: rule.title for rule in active_monitoring_rules(session).rules if rule.title
    }
    rules = _document(data).get("rules")
    for rule in rules if isinstance(rules, list) else []:
        if isinstance(rule, Mapping) and rule.get("id") and rule.get("title"):
            words[str(rule["id"])] = rule["title"]
    return words


def _document(data: Mapping[str, Any]) -> Mapping[str, Any]:
    """The draft's YAML as a mapping (empty when it is not one)."""
    try:
        document = yaml.safe_load(str(data.get("content") or ""))
    except yaml.YAMLError:
        return {}
    return document if isinstance(document, Mapping) else {}


def _words(
    session: Session, kind: str, data: Mapping[str, Any]
) -> tuple[dict[str, Any], dict[str, Any]]:
    """The words of a report's codes: (checklist items, states)."""
    if kind == "dd_checklist":
        return _checklist_words(session, data), _state_words(session, DUE_DILIGENCE, None)
    if kind == "monitoring_rules":
        return _rule_words(session, data), {}
    if kind.startswith("definition:"):
        return {}, _state_words(session, kind.removeprefix("definition:"), data)
    return {}, {}


def backtest_view(session: Session, instance: WorkflowInstance) -> BacktestView | None:
    """The backtest of a ``config_change`` case (None for any other case), read afresh:
    another process may have written its progress or its outcome since."""
    if instance.definition != DEFINITION:
        return None
    found = progress.of_change(session, instance.id)  # refreshes the instance
    data = instance.data or {}
    backtest = data.get("backtest") or {}
    kind = str(data.get("kind") or "")
    done, total, status = found["done"], found["total"], found["outcome"]
    if status == "failed":
        return BacktestView(instance.id, kind, "failed", done, total, reason=found["reason"])
    if status == "done":
        words, state_words = _words(session, kind, data)
        return BacktestView(
            instance.id,
            kind,
            "done",
            done,
            total,
            report=backtest["report"],
            report_hash=backtest.get("hash"),
            words=words,
            state_words=state_words,
        )
    return BacktestView(instance.id, kind, status, done, total)
