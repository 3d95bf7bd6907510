"""Monitoring rules as data (监控规则): which risk events matter and what to do about them.

A rule file is YAML (``definitions/rules/monitoring.yaml`` by default, or the path in
``RISKLOOP_MONITORING_RULES``), validated key by key like the risk rule set: an error
names the file, the key and the fix, and every CEL condition is compiled and tried on
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
from importlib.resources import files
from typing import Any

import cel
import yaml

from workflow.errors import Message, shown
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
    _UniqueKeyLoader,
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
    def error(self, key: str, message: str) -> RuleSetError:
        return MonitoringRulesError(self.file, key, message)

    def build(self, data: bytes) -> MonitoringRules:  # type: ignore[override]
        try:
            document = yaml.load(data, Loader=_UniqueKeyLoader)
        except yaml.YAMLError as exc:
            raise self.error("(document)", f"not valid YAML: {exc}") from exc
        top = self.mapping(document, "", ("name", "version", "rules"), ("description",))
        version = top["version"]
        if isinstance(version, bool) or not isinstance(version, int) or version < 1:
            raise self.error(
                "version",
                Message(
                    "config.version",
                    f"must be a whole number from 1, got {version!r}",
                    value=shown(version),
                ),
            )
        rules: list[MonitoringRule] = []
        for index, item in enumerate(self.items(top["rules"], "rules")):
            rule = self.rule(item, f"rules[{index}]")
            if any(r.id == rule.id for r in rules):
                raise self.error(
                    f"rules[{index}].id",
                    Message("rules.duplicate_id", f"duplicate rule id {rule.id!r}", id=rule.id),
                )
            rules.append(rule)
        return MonitoringRules(
            name=self.text(top["name"], "name"),
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
        return tuple(self.text(v, f"{key}[{i}]") for i, v in enumerate(value))

    def choices(self, value: Any, key: str, allowed: tuple[str, ...]) -> frozenset[str]:
        chosen = self.words(value, key)
        for i, v in enumerate(chosen):
            if v not in allowed:
                raise self.error(
                    f"{key}[{i}]",
                    Message(
                        "config.unknown_name",
                        f"unknown value {v!r}; use one of {', '.join(allowed)}",
                        value=v,
                        allowed=list(allowed),
                    ),
                )
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
        spec = self.mapping(item, key, ("id", "match", "actions"), ("title",))
        match = self.mapping(
            spec["match"],
            f"{key}.match",
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
        title = spec.get("title") or {"zh-CN": spec["id"], "en": spec["id"]}
        title = self.mapping(title, f"{key}.title", ("zh-CN", "en"))
        keywords = self.mapping(
            match.get("keywords") or {}, f"{key}.match.keywords", (), ("any", "all")
        )
        rule = MonitoringRule(
            id=self.text(spec["id"], f"{key}.id"),
            title={lang: self.text(t, f"{key}.title.{lang}") for lang, t in title.items()},
            types=(
                self.choices(match["types"], f"{key}.match.types", EVENT_TYPES)
                if "types" in match
                else frozenset()
            ),
            keywords_any=self.words(keywords["any"], f"{key}.match.keywords.any")
            if "any" in keywords
            else (),
            keywords_all=self.words(keywords["all"], f"{key}.match.keywords.all")
            if "all" in keywords
            else (),
            industries=frozenset(self.words(match["industries"], f"{key}.match.industries"))
            if "industries" in match
            else frozenset(),
            regions=frozenset(self.words(match["regions"], f"{key}.match.regions"))
            if "regions" in match
            else frozenset(),
            tags=frozenset(self.words(match["tags"], f"{key}.match.tags"))
            if "tags" in match
            else frozenset(),
            when=self.condition(match["when"], f"{key}.match.when") if "when" in match else None,
            threshold=self.threshold(match["threshold"], f"{key}.match.threshold")
            if "threshold" in match
            else None,
            score_drop=self.score_drop(match["score_drop"], f"{key}.match.score_drop")
            if "score_drop" in match
            else None,
            **self.actions(spec["actions"], f"{key}.actions"),
        )
        if not (rule.types or rule.threshold or rule.score_drop or rule.when):
            raise self.error(
                f"{key}.match",
                Message(
                    "monitoring.match_all",
                    "matches every event; name types, a threshold, a score_drop or a when condition",
                ),
            )
        return rule

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
        if spec["type"] not in EVENT_TYPES:
            raise self.error(
                f"{key}.type",
                Message(
                    "monitoring.event_type",
                    f"unknown event type; use one of {', '.join(EVENT_TYPES)}",
                    value=shown(spec["type"]),
                    allowed=list(EVENT_TYPES),
                ),
            )
        return Threshold(
            type=str(spec["type"]),
            count=self.whole(spec["count"], f"{key}.count"),
            days=self.whole(spec["days"], f"{key}.days"),
        )

    def score_drop(self, value: Any, key: str) -> ScoreDrop:
        spec = self.mapping(value, key, ("points", "days"))
        return ScoreDrop(
            points=self.number(spec["points"], f"{key}.points", 0.1, 100.0),
            days=self.whole(spec["days"], f"{key}.days"),
        )

    def actions(self, value: Any, key: str) -> dict[str, Any]:
        spec = self.mapping(value, key, (), ("alert", "tag", "rescore"))
        if not spec:
            raise self.error(
                key,
                Message(
                    "monitoring.no_action", "a rule must do something: give alert, tag or rescore"
                ),
            )
        alert = None
        if "alert" in spec:
            a = self.mapping(spec["alert"], f"{key}.alert", ("level", "category"))
            if a["level"] not in LEVELS:
                raise self.error(
                    f"{key}.alert.level",
                    Message(
                        "config.unknown_name",
                        f"use one of {', '.join(LEVELS)}",
                        value=shown(a["level"]),
                        allowed=list(LEVELS),
                    ),
                )
            if a["category"] not in CATEGORIES:
                raise self.error(
                    f"{key}.alert.category",
                    Message(
                        "config.unknown_name",
                        f"use one of {', '.join(CATEGORIES)}",
                        value=shown(a["category"]),
                        allowed=list(CATEGORIES),
                    ),
                )
            alert = AlertAction(level=a["level"], category=a["category"])
        tag = None
        if "tag" in spec:
            t = self.mapping(spec["tag"], f"{key}.tag", ("name",), ("expires_after",))
            expires = None
            if t.get("expires_after") is not None:
                try:
                    expires = parse_duration(t["expires_after"])
                except ValueError as exc:
                    raise self.error(
                        f"{key}.tag.expires_after",
                        Message("config.duration", str(exc), value=shown(t["expires_after"])),
                    ) from exc
            name = self.text(t["name"], f"{key}.tag.name")
            if len(name) > 64:
                raise self.error(
                    f"{key}.tag.name",
                    Message("monitoring.tag_length", "at most 64 characters", max=64),
                )
            tag = TagAction(tag=name, expires_after=expires)
        rescore = spec.get("rescore", False)
        if not isinstance(rescore, bool):
            raise self.error(
                f"{key}.rescore",
                Message("config.boolean", f"must be true or false, got {rescore!r}"),
            )
        return {"alert": alert, "tag": tag, "rescore": rescore}
