"""Monitoring rules as data (监控规则): which risk events matter and what to do about them.

A rule file is YAML (``definitions/rules/monitoring.yaml`` by default, or the path in
``RISKLOOP_MONITORING_RULES``), validated key by key like the risk rule set: every
problem is found in one pass (``MonitoringRulesError.problems``), each naming the file,
the key and the fix, and every CEL condition is compiled and tried on
sample events when the file loads. A rule matches an event by its type, keywords
(``any``/``all``, plain substrings so Chinese needs no word splitting, looked for in the
event's keywords, title and details), the client's industry, region and tags (manual
and current system tags), an optional CEL condition over ``event`` and ``client``, and
thresholds over windows (``threshold``: at least N events of a type within D days;
``score_drop``: the score fell at least N points within D days). Its actions raise an
alert (level, category), add a system risk tag (with an expiry) and re-score the client.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import timedelta
from functools import partial
from importlib.resources import files
from typing import Any

import cel

from workflow.errors import DefinitionError, Message, shown
from workflow.platform.durations import parse_duration
from workflow.risk.alerts.intake import CATEGORIES, LEVELS
from workflow.risk.events.model import EVENT_TYPES
from workflow.risk.screening.rules import (
    RuleSetError,
    _Builder,
    _check_variables,
    _compile,
    _content_hash,
    _Expression,
)

SETTING = "RISKLOOP_MONITORING_RULES"
VARIABLES = frozenset({"event", "client"})
# Sample contexts every condition must evaluate on at load time (a misspelt name or a
# type error fails the load, not an event later).
_PROBE_EVENT: dict[str, Any] = {
    "type": "other",
    "title": "",
    "details": "",
    "keywords": [],
    "source": "api",
    "data": {},
}
_PROBE_CLIENT: dict[str, Any] = {
    "id": 0,
    "name": "",
    "industry": "",
    "region": "",
    "tags": [],
    "rating": "",
    "risk_score": 0.0,
    "status": "active",
}


class MonitoringRulesError(RuleSetError):
    """Raised when a monitoring rule file is invalid; names the file, the key and the fix."""


@dataclass(frozen=True)
class Threshold:
    """At least ``count`` events of ``type`` of the client occurred within ``days``."""

    type: str
    count: int
    days: int


@dataclass(frozen=True)
class ScoreDrop:
    """The client's score is at least ``points`` below its highest within ``days``."""

    points: float
    days: int


@dataclass(frozen=True)
class AlertAction:
    level: str
    category: str


@dataclass(frozen=True)
class TagAction:
    tag: str
    expires_after: timedelta | None


@dataclass(frozen=True)
class MonitoringRule:
    """One rule: what it matches and what it does."""

    id: str
    title: dict[str, str]
    types: frozenset[str]
    keywords_any: tuple[str, ...]
    keywords_all: tuple[str, ...]
    industries: frozenset[str]
    regions: frozenset[str]
    tags: frozenset[str]
    when: _Expression | None
    threshold: Threshold | None
    score_drop: ScoreDrop | None
    alert: AlertAction | None
    tag: TagAction | None
    rescore: bool

    def matches_event(self, event: Mapping[str, Any], client: Mapping[str, Any]) -> bool:
        """Type, keywords, client attributes and the condition (windows are the caller's).

        Raises:
            MonitoringRulesError: the condition failed on this event.
        """
        if self.types and event["type"] not in self.types:
            return False
        if self.industries and client.get("industry") not in self.industries:
            return False
        if self.regions and client.get("region") not in self.regions:
            return False
        if self.tags and not self.tags.intersection(client.get("tags") or ()):
            return False
        if self.keywords_any or self.keywords_all:
            text = searchable_text(event)
            if self.keywords_any and not any(k.casefold() in text for k in self.keywords_any):
                return False
            if self.keywords_all and not all(k.casefold() in text for k in self.keywords_all):
                return False
        if self.when is not None:
            return self.when.boolean(cel.Context(variables={"event": event, "client": client}))
        return True


def searchable_text(event: Mapping[str, Any]) -> str:
    """An event's keywords, title and details as one case-folded text to look keywords up in."""
    parts = [*(event.get("keywords") or []), event.get("title") or "", event.get("details") or ""]
    return "\n".join(str(p) for p in parts).casefold()


@dataclass(frozen=True, eq=False)
class MonitoringRules:
    """A loaded, validated rule file; immutable, so one instance serves every thread."""

    name: str
    version: int
    source: str
    content_hash: str
    rules: tuple[MonitoringRule, ...]


def parse_monitoring_rules(data: bytes | str, source: str = "<string>") -> MonitoringRules:
    """Validate monitoring rule YAML; ``source`` names the file in error messages.

    Raises:
        MonitoringRulesError: not valid YAML, or the schema is broken (file and key named).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return _RulesBuilder(source).build(raw)


def load_monitoring_rules(path: str | None = None) -> MonitoringRules:
    """The file at ``path``, else the shipped ``definitions/rules/monitoring.yaml``.

    Raises:
        MonitoringRulesError: unreadable or invalid.
    """
    if not path:
        resource = files("definitions") / "rules" / "monitoring.yaml"
        return parse_monitoring_rules(resource.read_bytes(), str(resource))
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise MonitoringRulesError(path, "(file)", f"cannot read the rules: {exc}") from exc
    return parse_monitoring_rules(data, path)


@functools.lru_cache(maxsize=4)
def _cached(path: str) -> MonitoringRules:
    return load_monitoring_rules(path or None)


def monitoring_rules(settings: Mapping[str, Any] | None = None) -> MonitoringRules:
    """The active monitoring rules (``RISKLOOP_MONITORING_RULES`` or the shipped file),
    loaded and validated once per process."""
    path = str((settings or {}).get(SETTING) or os.environ.get(SETTING, ""))
    return _cached(path)


class _RulesBuilder(_Builder):
    """Checks a rule file like the rule set's builder: every rule, and every field of a
    rule, on its own, so every problem is found in one pass; a rule with a problem is
    left out of the duplicate-id check."""

    error_type = MonitoringRulesError

    def build(self, data: bytes) -> MonitoringRules:  # type: ignore[override]
        top = self.part(self.load(data), "", ("name", "version", "rules"), ("description",))
        if top is None:
            raise self.failure()
        version = self.field(top, "version", self.version)
        listed = self.field(top, "rules", lambda v: self.items(v, "rules")) or []
        rules: list[MonitoringRule] = []
        for index, item in enumerate(listed):
            rule = self.attempt(partial(self.rule, item, f"rules[{index}]"))
            if rule is None:
                continue
            if any(r.id == rule.id for r in rules):
                self.problems.append(
                    self.error(
                        f"rules[{index}].id",
                        Message("rules.duplicate_id", f"duplicate rule id {rule.id!r}", id=rule.id),
                    )
                )
            rules.append(rule)
        name = self.field(top, "name", lambda v: self.text(v, "name"))
        if self.problems or version is None or name is None:
            raise self.failure()
        return MonitoringRules(
            name=name,
            version=version,
            source=self.file,
            content_hash=_content_hash(data),
            rules=tuple(rules),
        )

    def words(self, value: Any, key: str) -> tuple[str, ...]:
        if not isinstance(value, list) or not value:
            raise self.error(
                key,
                Message(
                    "monitoring.words",
                    f"must be a non-empty list of text, got {value!r}",
                    value=shown(value),
                ),
            )
        found: list[DefinitionError] = []
        words: list[str] = []
        for i, v in enumerate(value):
            try:
                words.append(self.text(v, f"{key}[{i}]"))
            except RuleSetError as exc:
                found += exc.problems
        if found:
            raise self.error_type.collected(found)
        return tuple(words)

    def choices(self, value: Any, key: str, allowed: tuple[str, ...]) -> frozenset[str]:
        chosen = self.words(value, key)
        found: list[DefinitionError] = [
            self.error(
                f"{key}[{i}]",
                Message(
                    "config.unknown_name",
                    f"unknown value {v!r}; use one of {', '.join(allowed)}",
                    value=v,
                    allowed=list(allowed),
                ),
            )
            for i, v in enumerate(chosen)
            if v not in allowed
        ]
        if found:
            raise self.error_type.collected(found)
        return frozenset(chosen)

    def whole(self, value: Any, key: str) -> int:
        number = self.number(value, key, 1.0)
        if not number.is_integer():
            raise self.error(
                key,
                Message(
                    "monitoring.whole", f"must be a whole number, got {value!r}", value=shown(value)
                ),
            )
        return int(number)

    def rule(self, item: Any, key: str) -> MonitoringRule:
        """One rule; raises with every problem of the rule (its own part of the file)."""
        outer, self.problems = self.problems, []
        try:
            rule = self._rule(item, key)
            if self.problems or rule is None:
                raise self.failure()
            return rule
        finally:
            self.problems = outer

    def _rule(self, item: Any, key: str) -> MonitoringRule | None:
        spec = self.part(item, key, ("id", "match", "actions"), ("title",))
        if spec is None:
            return None
        rule_id = self.field(spec, "id", lambda v: self.text(v, f"{key}.id"))
        title = self.attempt(lambda: self.title(spec.get("title"), rule_id, key))
        match = self.field(spec, "match", lambda v: self.match(v, f"{key}.match"))
        actions = self.field(spec, "actions", lambda v: self.actions(v, f"{key}.actions"))
        if rule_id is None or title is None or match is None or actions is None:
            return None
        return MonitoringRule(id=rule_id, title=title, **match, **actions)

    def title(self, value: Any, rule_id: str | None, key: str) -> dict[str, str]:
        if value is None:
            return {"zh-CN": rule_id or "", "en": rule_id or ""}
        spec = self.mapping(value, f"{key}.title", ("zh-CN", "en"))
        found: list[DefinitionError] = []
        title: dict[str, str] = {}
        for lang, text in spec.items():
            try:
                title[lang] = self.text(text, f"{key}.title.{lang}")
            except RuleSetError as exc:
                found += exc.problems
        if found:
            raise self.error_type.collected(found)
        return title

    def match(self, value: Any, key: str) -> dict[str, Any]:
        """The match fields of a rule; raises with every problem of its ``match``."""
        outer, self.problems = self.problems, []
        try:
            match = self._match(value, key)
            if self.problems or match is None:
                raise self.failure()
            return match
        finally:
            self.problems = outer

    def _match(self, value: Any, key: str) -> dict[str, Any] | None:
        spec = self.part(
            value,
            key,
            (),
            (
                "types",
                "keywords",
                "industries",
                "regions",
                "tags",
                "when",
                "threshold",
                "score_drop",
            ),
        )
        if spec is None:
            return None
        keywords = self.field(
            spec, "keywords", lambda v: self.mapping(v or {}, f"{key}.keywords", (), ("any", "all"))
        )
        words: dict[str, tuple[str, ...]] = {}
        for part in ("any", "all"):
            if keywords is not None and part in keywords:
                found = self.field(
                    keywords, part, partial(self.words, key=f"{key}.keywords.{part}")
                )
                words[part] = found or ()

        def names(name: str) -> frozenset[str]:
            return frozenset(self.field(spec, name, lambda v: self.words(v, f"{key}.{name}")) or ())

        match = {
            "types": self.field(
                spec, "types", lambda v: self.choices(v, f"{key}.types", EVENT_TYPES)
            )
            or frozenset(),
            "keywords_any": words.get("any", ()),
            "keywords_all": words.get("all", ()),
            "industries": names("industries"),
            "regions": names("regions"),
            "tags": names("tags"),
            "when": self.field(spec, "when", lambda v: self.condition(v, f"{key}.when")),
            "threshold": self.field(
                spec, "threshold", lambda v: self.threshold(v, f"{key}.threshold")
            ),
            "score_drop": self.field(
                spec, "score_drop", lambda v: self.score_drop(v, f"{key}.score_drop")
            ),
        }
        if self.problems:
            return None
        if not (match["types"] or match["threshold"] or match["score_drop"] or match["when"]):
            raise self.error(
                key,
                Message(
                    "monitoring.match_all",
                    "matches every event; name types, a threshold, a score_drop or a when condition",
                ),
            )
        return match

    def condition(self, value: Any, key: str) -> _Expression:
        try:
            expression = _compile(value, self.file, key)
            _check_variables(expression, VARIABLES)
            expression.boolean(
                cel.Context(variables={"event": _PROBE_EVENT, "client": _PROBE_CLIENT})
            )
        except RuleSetError as exc:
            message = exc.fix
            if exc.code == "rules.expression_unknown_name":
                # a key of event.data that sample events lack: a rule for events that
                # carry it must say so, or it fails (an incident) on every other event
                message = Message(
                    "monitoring.condition_unknown_name",
                    f"{message}; guard optional keys with has(), e.g. "
                    "has(event.data.certainty) && event.data.certainty == 'certain'",
                    **exc.params,
                )
            raise self.error(key, message) from exc
        return expression

    def threshold(self, value: Any, key: str) -> Threshold:
        spec = self.mapping(value, key, ("type", "count", "days"))
        found: list[DefinitionError] = []
        if spec["type"] not in EVENT_TYPES:
            found.append(
                self.error(
                    f"{key}.type",
                    Message(
                        "monitoring.event_type",
                        f"unknown event type; use one of {', '.join(EVENT_TYPES)}",
                        value=shown(spec["type"]),
                        allowed=list(EVENT_TYPES),
                    ),
                )
            )
        numbers: dict[str, int] = {}
        for name in ("count", "days"):
            try:
                numbers[name] = self.whole(spec[name], f"{key}.{name}")
            except RuleSetError as exc:
                found += exc.problems
        if found:
            raise self.error_type.collected(found)
        return Threshold(type=str(spec["type"]), count=numbers["count"], days=numbers["days"])

    def score_drop(self, value: Any, key: str) -> ScoreDrop:
        spec = self.mapping(value, key, ("points", "days"))
        outer, self.problems = self.problems, []
        try:
            points = self.attempt(lambda: self.number(spec["points"], f"{key}.points", 0.1, 100.0))
            days = self.attempt(lambda: self.whole(spec["days"], f"{key}.days"))
            if self.problems or points is None or days is None:
                raise self.failure()
            return ScoreDrop(points=points, days=days)
        finally:
            self.problems = outer

    def actions(self, value: Any, key: str) -> dict[str, Any]:
        """The actions of a rule; raises with every problem of its ``actions``."""
        spec = self.mapping(value, key, (), ("alert", "tag", "rescore"))
        if not spec:
            raise self.error(
                key,
                Message(
                    "monitoring.no_action", "a rule must do something: give alert, tag or rescore"
                ),
            )
        outer, self.problems = self.problems, []
        try:
            alert = self.field(spec, "alert", lambda v: self.alert(v, f"{key}.alert"))
            tag = self.field(spec, "tag", lambda v: self.tag(v, f"{key}.tag"))
            rescore = spec.get("rescore", False)
            if not isinstance(rescore, bool):
                self.problems.append(
                    self.error(
                        f"{key}.rescore",
                        Message("config.boolean", f"must be true or false, got {rescore!r}"),
                    )
                )
            if self.problems:
                raise self.failure()
            return {"alert": alert, "tag": tag, "rescore": rescore}
        finally:
            self.problems = outer

    def alert(self, value: Any, key: str) -> AlertAction:
        a = self.mapping(value, key, ("level", "category"))
        found: list[DefinitionError] = [
            self.error(
                f"{key}.{name}",
                Message(
                    "config.unknown_name",
                    f"use one of {', '.join(allowed)}",
                    value=shown(a[name]),
                    allowed=list(allowed),
                ),
            )
            for name, allowed in (("level", LEVELS), ("category", CATEGORIES))
            if a[name] not in allowed
        ]
        if found:
            raise self.error_type.collected(found)
        return AlertAction(level=a["level"], category=a["category"])

    def tag(self, value: Any, key: str) -> TagAction:
        t = self.mapping(value, key, ("name",), ("expires_after",))
        found: list[DefinitionError] = []
        expires = None
        if t.get("expires_after") is not None:
            try:
                expires = parse_duration(t["expires_after"])
            except ValueError as exc:
                found.append(
                    self.error(
                        f"{key}.expires_after",
                        Message("config.duration", str(exc), value=shown(t["expires_after"])),
                    )
                )
        name = ""
        try:
            name = self.text(t["name"], f"{key}.name")
        except RuleSetError as exc:
            found += exc.problems
        if len(name) > 64:
            found.append(
                self.error(
                    f"{key}.name",
                    Message("monitoring.tag_length", "at most 64 characters", max=64),
                )
            )
        if found:
            raise self.error_type.collected(found)
        return TagAction(tag=name, expires_after=expires)
