"""The kinds of governed configuration: where each is shipped, how a draft is validated.

| kind | shipped as | content |
| --- | --- | --- |
| ``rule_set`` | ``definitions/rules/default.yaml`` (or ``RISKLOOP_RULE_SET``) | the rule-set file |
| ``monitoring_rules`` | ``definitions/rules/monitoring.yaml`` (or ``RISKLOOP_MONITORING_RULES``) | the rule file |
| ``alert_routing`` | ``settings`` of ``definitions/alert_remediation.yaml`` | ``version``, ``levels``, ``categories``, ``sla``, ``business_hours``, ``routing``, ``digest_at`` |
| ``dd_checklist`` | ``settings`` of ``definitions/due_diligence.yaml`` | ``version``, ``checklist``, ``checklists`` (by client type), ``risk_grades`` |

Every content is a YAML document with a whole-number ``version``. Validation collects
every error it can find, each naming the file, the key and the fix: the parts of a
document are checked one by one (each rating rule, each monitoring rule, each section),
so one mistake does not hide the next. Each problem has a stable ``code`` and ``params``
beside its English ``message`` (the API sends all three; the console words the code).
"""

from __future__ import annotations

import os
import re
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from functools import partial
from importlib.resources import files
from typing import Any

import yaml
from sqlalchemy.orm import Session

from workflow.engine import runtime
from workflow.engine.catalog import Catalog
from workflow.errors import DefinitionError, RiskloopError, ValidationFailed, shown
from workflow.platform.durations import parse_duration
from workflow.records.config_versions import ConfigVersion, canonical_hash
from workflow.records.identity import Actor
from workflow.risk.alerts.intake import CATEGORIES, LEVELS
from workflow.risk.alerts.routing import MATCH_KEYS, all_channels
from workflow.risk.clients.model import CLIENT_TYPES
from workflow.risk.events import monitoring
from workflow.risk.governance.reasons import reason_conflicts, title_conflicts
from workflow.risk.notify.robots import check_channel
from workflow.risk.policy import POLICY
from workflow.risk.screening import rules as rating
from workflow.risk.screening.rule_set_loads import record_rule_set_load

ALERT_DEFINITION = "alert_remediation"
DD_DEFINITION = "due_diligence"
ALERT_KEYS = ("levels", "categories", "sla", "business_hours", "routing", "digest_at")
DD_KEYS = ("checklist", "checklists", "risk_grades")
_CLOCK = re.compile(r"^([01]\d|2[0-3]):[0-5]\d$")
_VERSION_LINE = re.compile(r"^version:[^\n]*$", re.MULTILINE)


# The code of a problem whose validator gave none: its params hold the English ``detail``.
UNCODED = "config.invalid"


@dataclass(frozen=True)
class Problem:
    """One thing wrong with a draft: the file, the key and what to do.

    ``message`` is the English sentence; ``code`` and ``params`` say the same for a reader
    in another language (the console words them, ``web/texts.py``). Given a
    :class:`~workflow.errors.Message`, the problem takes its code and params."""

    file: str
    key: str
    message: str
    code: str = ""
    params: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if not self.code:
            code = getattr(self.message, "code", None)
            params = getattr(self.message, "params", None) or {}
            object.__setattr__(self, "code", code or UNCODED)
            object.__setattr__(self, "params", dict(params) if code else {"detail": self.message})
        object.__setattr__(self, "message", str(self.message))

    def to_dict(self) -> dict[str, Any]:
        return {
            "file": self.file,
            "key": self.key,
            "message": self.message,
            "code": self.code,
            "params": dict(self.params),
        }


def problem(source: str, key: str, code: str, text: str, **params: Any) -> Problem:
    """A problem with its code and params (``text`` is the English rendering)."""
    return Problem(source, key, text, code, params)


@dataclass(frozen=True)
class Seed:
    """The shipped content of a kind: where it came from, its declared version, its text."""

    source: str
    version: int
    content: str


class InvalidDraft(ValidationFailed):
    """Raised when a configuration draft does not validate; ``errors`` lists every problem."""


def _canonical(document: Any, _content: str) -> str:
    return canonical_hash(document)


@dataclass(frozen=True)
class Kind:
    name: str
    check: Callable[[Any, str, Mapping[str, Any]], list[Problem]]
    seed: Callable[[Catalog, Mapping[str, Any]], Seed | None]
    # the content hash of a parsed document and its text (canonical JSON unless said)
    digest: Callable[[Any, str], str] = _canonical
    # the highest version known elsewhere than config_versions (0: none)
    known_version: Callable[[Session], int] | None = None
    # after the version became active, in the same transaction: what to add to its audit record
    on_activate: Callable[[Session, ConfigVersion, Actor], dict[str, Any]] | None = None
    # seed again on every read: the source may move on at run time (a definition)
    reseed: bool = False
    # a newer shipped version held back at start-up, to propose (a definition's file)
    pending: Callable[[Catalog], Seed | None] | None = None


def load_document(content: str, source: str) -> tuple[Any, list[Problem]]:
    """The parsed YAML (duplicate keys refused) and the problem, if it does not parse."""
    try:
        return yaml.load(content, Loader=rating._UniqueKeyLoader), []
    except yaml.YAMLError as exc:
        return None, [
            problem(source, "(document)", "config.yaml", f"not valid YAML: {exc}", error=str(exc))
        ]


def content_hash(document: Any) -> str:
    return canonical_hash(document)


def stamp_version(content: str, version: int) -> str:
    """``content`` with its top-level ``version:`` line set to ``version`` (added if absent),
    comments and layout kept: versions are assigned by the system."""
    if _VERSION_LINE.search(content):
        return _VERSION_LINE.sub(f"version: {version}", content, count=1)
    return f"version: {version}\n{content}"


def validate(kind: Kind, content: str, source: str, settings: Mapping[str, Any]) -> Any:
    """The parsed document of a valid draft.

    Raises:
        InvalidDraft: every problem found (file, key, fix).
    """
    document, problems = load_document(content, source)
    if not problems:
        problems = kind.check(document, source, settings)
    if problems:
        raise InvalidDraft(
            f"the {kind.name} draft has {len(problems)} problem(s): "
            + "; ".join(f"{p.key}: {p.message}" for p in problems),
            errors={"content": [p.to_dict() for p in problems]},
        )
    return document


def _attempt(problems: list[Problem], source: str, check: Callable[[], Any]) -> None:
    try:
        check()
    except RiskloopError as exc:
        # a DefinitionError holds every problem it found (``problems``)
        for found in getattr(exc, "problems", None) or (exc,):
            problems.append(
                Problem(
                    getattr(found, "file", source),
                    getattr(found, "key", "(document)"),
                    _message(found),
                    found.code or UNCODED,
                    dict(found.params) if found.code else {"detail": _message(found)},
                )
            )


def _message(exc: RiskloopError) -> str:
    fix = getattr(exc, "fix", None)
    if isinstance(fix, str):
        return fix
    detail = exc.detail
    prefix = f"{getattr(exc, 'file', '')}: {getattr(exc, 'key', '')}: "
    return detail[len(prefix) :] if detail.startswith(prefix) else detail


def _built(source: str, build: Callable[[], Any]) -> list[Problem]:
    """Every problem the builder found in its one pass (none when ``build`` succeeds)."""
    try:
        build()
    except DefinitionError as exc:
        return [
            Problem(getattr(p, "file", source), getattr(p, "key", "(document)"), p.fix)
            for p in exc.problems
        ]
    return []


def check_rule_set(document: Any, source: str, _settings: Mapping[str, Any]) -> list[Problem]:
    if not isinstance(document, Mapping):
        return [
            problem(
                source,
                "(document)",
                "config.not_mapping",
                "must be a mapping with the rule-set keys",
            )
        ]
    # the builder checks each section, each rule and each field on its own
    problems = _built(source, lambda: rating._Builder(source).build(_dump(document)))
    # a reason is checked whenever its own condition is sound, whatever else of its rule
    # is broken (a wrong rating does not hide a reason contradicting the condition)
    unsound = _unsound_rules(problems, "rating_rules[", ("when",))
    for key, message in reason_conflicts(document.get("rating_rules")):
        if key.split(".", 1)[0] not in unsound:
            problems.append(Problem(source, key, message))  # a Message: config.reason_percent
    return problems


def _unsound_rules(problems: list[Problem], prefix: str, parts: tuple[str, ...]) -> set[str]:
    """The rules (``rules[3]``) with a problem in the rule itself or in one of ``parts``
    (``match.threshold`` covers ``match.threshold.days``; ``match`` only the match itself)."""
    unsound: set[str] = set()
    for found in problems:
        if not found.key.startswith(prefix):
            continue
        rule, _, rest = found.key.partition(".")
        if not rest or any(
            rest == part or (part != "match" and rest.startswith((f"{part}.", f"{part}[")))
            for part in parts
        ):
            unsound.add(rule)
    return unsound


def check_monitoring(document: Any, source: str, _settings: Mapping[str, Any]) -> list[Problem]:
    if not isinstance(document, Mapping):
        return [
            problem(
                source,
                "(document)",
                "config.not_mapping",
                "must be a mapping with name, version and rules",
            )
        ]
    problems = _built(source, lambda: monitoring.parse_monitoring_rules(_dump(document), source))
    # a title is checked whenever the numbers of its rule's match are sound
    unsound = _unsound_rules(
        problems, "rules[", ("match", "match.threshold", "match.score_drop", "match.when")
    )
    for key, message in title_conflicts(document.get("rules")):
        if key.split(".", 1)[0] not in unsound:
            problems.append(Problem(source, key, message))  # a Message: config.title_number
    return problems


def _dump(document: Any) -> bytes:
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False).encode("utf-8")


def _check_version(document: Mapping[str, Any], source: str) -> list[Problem]:
    version = document.get("version")
    if isinstance(version, bool) or not isinstance(version, int) or version < 1:
        return [
            problem(
                source,
                "version",
                "config.version",
                f"must be a whole number from 1, got {version!r}",
                value=shown(version),
            )
        ]
    return []


def _check_keys(
    document: Any, source: str, allowed: tuple[str, ...], required: tuple[str, ...]
) -> list[Problem]:
    if not isinstance(document, Mapping):
        return [
            problem(
                source,
                "(document)",
                "config.not_mapping_with",
                f"must be a mapping with {', '.join(allowed)}",
                keys=list(allowed),
            )
        ]
    problems = [
        problem(
            source,
            str(key),
            "config.unknown_key",
            f"unknown key; allowed: version, {', '.join(allowed)}",
            allowed=["version", *allowed],
        )
        for key in document
        if key != "version" and key not in allowed
    ]
    problems += [
        problem(source, key, "config.required", "missing required key")
        for key in required
        if key not in document
    ]
    return problems + _check_version(document, source)


def _subset(value: Any, key: str, allowed: tuple[str, ...], source: str) -> list[Problem]:
    if not isinstance(value, list) or not all(isinstance(v, str) for v in value):
        return [
            problem(
                source,
                key,
                "config.names",
                f"must be a list of names from {', '.join(allowed)}",
                allowed=list(allowed),
            )
        ]
    return [
        problem(
            source,
            f"{key}[{i}]",
            "config.unknown_name",
            f"unknown {v!r}; use one of {', '.join(allowed)}",
            value=v,
            allowed=list(allowed),
        )
        for i, v in enumerate(value)
        if v not in allowed
    ]


def _check_durations(value: Any, key: str, source: str) -> list[Problem]:
    problems: list[Problem] = []
    if not isinstance(value, Mapping):
        return [
            problem(source, key, "config.sla_levels", "must map each level to {respond, rectify}")
        ]
    for level, spec in value.items():
        where = f"{key}.{level}"
        if level not in LEVELS:
            problems.append(
                problem(
                    source,
                    where,
                    "config.unknown_level",
                    f"unknown level; use {', '.join(LEVELS)}",
                    value=shown(level),
                    allowed=list(LEVELS),
                )
            )
            continue
        if not isinstance(spec, Mapping):
            problems.append(
                problem(source, where, "config.sla_mapping", "must be a mapping like {respond: 4h}")
            )
            continue
        for name, duration in spec.items():
            if name == "business_hours":
                if not isinstance(duration, bool):
                    problems.append(
                        problem(
                            source, f"{where}.{name}", "config.boolean", "must be true or false"
                        )
                    )
                continue
            if name not in ("respond", "rectify", "repeat"):
                problems.append(
                    problem(
                        source,
                        f"{where}.{name}",
                        "config.unknown_key",
                        "unknown key; use respond, rectify, repeat",
                        allowed=["respond", "rectify", "repeat"],
                    )
                )
                continue
            try:
                parse_duration(duration)
            except ValueError as exc:
                problems.append(
                    problem(
                        source,
                        f"{where}.{name}",
                        "config.duration",
                        f"{exc}; write e.g. 4h or 2d",
                        value=shown(duration),
                    )
                )
    return problems


def _check_roles(value: Any, key: str, source: str) -> list[Problem]:
    return _subset(value, key, tuple(sorted(POLICY.roles)), source)


ROUTING_KEYS = ("client_owner", "roles", "users", "rules", "channels")
ROUTING_RULE_KEYS = ("when", "roles", "users", "client_owner", "channels")


def _unknown_keys(
    value: Mapping[str, Any], where: str, allowed: tuple[str, ...], source: str
) -> list[Problem]:
    return [
        problem(
            source,
            f"{where}.{key}",
            "config.unknown_key",
            f"unknown key; allowed: {', '.join(allowed)}",
            allowed=list(allowed),
        )
        for key in value
        if key not in allowed
    ]


def _check_recipients(value: Mapping[str, Any], where: str, source: str) -> list[Problem]:
    """``roles``, ``users``, ``client_owner`` and ``channels`` of the routing or a rule."""
    problems: list[Problem] = []
    if "client_owner" in value and not isinstance(value["client_owner"], bool):
        problems.append(
            problem(source, f"{where}.client_owner", "config.boolean", "must be true or false")
        )
    if "roles" in value:
        problems += _check_roles(value["roles"], f"{where}.roles", source)
    users = value.get("users")
    if users is not None and (
        not isinstance(users, list) or not all(isinstance(u, str) and u.strip() for u in users)
    ):
        problems.append(
            problem(
                source,
                f"{where}.users",
                "config.users",
                "must be a list of user names, e.g. [alice, bob]",
            )
        )
    channels = value.get("channels")
    if channels is not None and not isinstance(channels, list):
        problems.append(
            problem(
                source,
                f"{where}.channels",
                "config.channels",
                "must be a list of channels, e.g. [{type: wecom, url: '${RISKLOOP_WECOM_URL}'}]",
            )
        )
    return problems


def _check_routing(value: Any, source: str) -> list[Problem]:
    if not isinstance(value, Mapping):
        return [
            problem(
                source,
                "routing",
                "config.routing",
                "must be a mapping with client_owner, roles, rules",
            )
        ]
    problems = _unknown_keys(value, "routing", ROUTING_KEYS, source)
    problems += _check_recipients(value, "routing", source)
    rules = value.get("rules")
    if rules is not None and not isinstance(rules, list):
        return problems + [
            problem(
                source,
                "routing.rules",
                "config.routing_rules",
                "must be a list of rules, each {when: …, roles: […]}",
            )
        ]
    for index, rule in enumerate(rules or []):
        where = f"routing.rules[{index}]"
        if not isinstance(rule, Mapping) or not isinstance(rule.get("when"), Mapping):
            problems.append(
                problem(
                    source,
                    where,
                    "config.routing_rule",
                    "must be a mapping with when and roles/users",
                )
            )
            continue
        problems += _unknown_keys(rule, where, ROUTING_RULE_KEYS, source)
        problems += _unknown_keys(rule["when"], f"{where}.when", MATCH_KEYS, source)
        for name, allowed in (("level", LEVELS), ("category", CATEGORIES)):
            wanted = rule["when"].get(name)
            if wanted is None:
                continue
            listed = wanted if isinstance(wanted, list) else [wanted]
            problems += _subset(listed, f"{where}.when.{name}", allowed, source)
        problems += _check_recipients(rule, where, source)
    return problems


def _channels(routing: Mapping[str, Any]) -> list[tuple[str, Any, Any]]:
    """The push channels of a routing whose channel lists are lists (a list that is not
    one is a problem of its own, not a channel)."""
    rules = routing.get("rules")
    return all_channels(
        {
            "channels": _listed(routing.get("channels")),
            "rules": [
                {"when": r.get("when"), "channels": _listed(r.get("channels"))}
                if isinstance(r, Mapping)
                else {}
                for r in (rules if isinstance(rules, list) else [])
            ],
        }
    )


def _listed(value: Any) -> list[Any]:
    return value if isinstance(value, list) else []


def check_alert_routing(document: Any, source: str, settings: Mapping[str, Any]) -> list[Problem]:
    problems = _check_keys(document, source, ALERT_KEYS, ("sla", "routing"))
    if not isinstance(document, Mapping):
        return problems
    if "levels" in document:
        problems += _subset(document["levels"], "levels", LEVELS, source)
    if "categories" in document:
        problems += _subset(document["categories"], "categories", CATEGORIES, source)
    if "sla" in document:
        problems += _check_durations(document["sla"], "sla", source)
    hours = document.get("business_hours")
    if hours is not None:
        if not isinstance(hours, Mapping):
            problems.append(
                problem(
                    source,
                    "business_hours",
                    "config.business_hours",
                    'write {start: "09:00", end: ...}',
                )
            )
        else:
            for name in ("start", "end"):
                if not isinstance(hours.get(name), str) or not _CLOCK.match(hours[name]):
                    problems.append(
                        problem(
                            source,
                            f"business_hours.{name}",
                            "config.clock",
                            'must be a time like "09:00"',
                            value=shown(hours.get(name)),
                        )
                    )
    if "digest_at" in document:
        at = document["digest_at"]
        if not isinstance(at, str) or not _CLOCK.match(at):
            problems.append(
                problem(
                    source,
                    "digest_at",
                    "config.digest_at",
                    f'must be a time of day like "21:00" (HH:MM, 24-hour, in RISKLOOP_TIMEZONE), '
                    f"got {at!r}; quote it in YAML",
                    value=shown(at),
                )
            )
    if "routing" in document:
        problems += _check_routing(document["routing"], source)
        if isinstance(document["routing"], Mapping):
            for key, channel, _when in _channels(document["routing"]):
                _attempt(problems, source, partial(check_channel, source, key, channel, settings))
    return problems


def check_dd_checklist(document: Any, source: str, _settings: Mapping[str, Any]) -> list[Problem]:
    problems = _check_keys(document, source, DD_KEYS, ("checklist",))
    if not isinstance(document, Mapping):
        return problems
    if "checklist" in document:
        problems += _check_checklist(document.get("checklist"), source, "checklist")
    by_type = document.get("checklists")
    if by_type is not None:
        if not isinstance(by_type, Mapping):
            problems.append(
                problem(
                    source,
                    "checklists",
                    "config.checklists",
                    "must map a client type to its own checklist",
                )
            )
        else:
            for client_type, items in by_type.items():
                if client_type not in CLIENT_TYPES:
                    # a checklist no client gets: a misspelt type
                    problems.append(
                        problem(
                            source,
                            f"checklists.{client_type}",
                            "config.unknown_name",
                            f"unknown client type {client_type!r}; use one of "
                            f"{', '.join(CLIENT_TYPES)}",
                            value=shown(client_type),
                            allowed=list(CLIENT_TYPES),
                        )
                    )
                problems += _check_checklist(items, source, f"checklists.{client_type}")
    grades = document.get("risk_grades")
    if grades is not None and (
        not isinstance(grades, list)
        or not grades
        or not all(isinstance(g, str) and g.strip() for g in grades)
    ):
        problems.append(
            problem(
                source,
                "risk_grades",
                "config.risk_grades",
                "must be a non-empty list of grade names",
            )
        )
    return problems


def _check_checklist(checklist: Any, source: str, key: str) -> list[Problem]:
    if not isinstance(checklist, Mapping) or not checklist:
        return [problem(source, key, "config.checklist", "must map each item key to its labels")]
    problems = []
    for item, label in checklist.items():
        where = f"{key}.{item}"
        if not isinstance(item, str) or not re.fullmatch(r"[a-z][a-z0-9_]{0,63}", item):
            problems.append(
                problem(
                    source,
                    where,
                    "config.item_key",
                    "item keys are snake_case words",
                    value=shown(item),
                )
            )
        if not isinstance(label, Mapping) or not all(
            isinstance(label.get(lang), str) and label[lang].strip() for lang in ("zh-CN", "en")
        ):
            problems.append(
                problem(
                    source,
                    where,
                    "config.item_labels",
                    "needs labels {zh-CN: …, en: …}, both non-empty",
                )
            )
    return problems


def _file_seed(setting: str, shipped: str) -> Callable[[Catalog, Mapping[str, Any]], Seed]:
    def seed(_catalog: Catalog, settings: Mapping[str, Any]) -> Seed:
        path = str(settings.get(setting) or os.environ.get(setting, ""))
        if path:
            with open(path, encoding="utf-8") as handle:
                text, source = handle.read(), path
        else:
            resource = files("definitions") / "rules" / shipped
            text, source = resource.read_text(encoding="utf-8"), str(resource)
        document, _ = load_document(text, source)
        version = document.get("version") if isinstance(document, Mapping) else None
        return Seed(source, version if isinstance(version, int) else 0, text)

    return seed


def _settings_seed(
    definition: str, keys: tuple[str, ...]
) -> Callable[[Catalog, Mapping[str, Any]], Seed | None]:
    def seed(catalog: Catalog, _settings: Mapping[str, Any]) -> Seed | None:
        if definition not in catalog:
            return None
        # a version published at run time (definition:<name>) leaves these keys governed
        loaded = catalog.shipped(definition)
        document = {"version": loaded.version} | {
            k: loaded.settings[k] for k in keys if k in loaded.settings
        }
        text = (
            f"# The settings of {definition} (from {os.path.basename(loaded.file)}), "
            "governed as configuration.\n"
            + yaml.safe_dump(document, allow_unicode=True, sort_keys=False)
        )
        return Seed(loaded.file, loaded.version, text)

    return seed


def _rule_set_loaded(session: Session, _row: ConfigVersion, _actor: Actor) -> dict[str, Any]:
    """The activated rule set is what screens now: ``rule_set.loaded`` says so in the same
    transaction (its ``content_hash`` is the activation's ``new_hash``)."""
    appended = record_rule_set_load(session, runtime.of(session).settings)
    return {} if appended is None else {"rule_set_loaded_seq": appended.seq}


KINDS: dict[str, Kind] = {
    kind.name: kind
    for kind in (
        Kind(
            "rule_set",
            check_rule_set,
            _file_seed("RISKLOOP_RULE_SET", "default.yaml"),
            on_activate=_rule_set_loaded,
        ),
        Kind(
            "monitoring_rules",
            check_monitoring,
            _file_seed(monitoring.SETTING, "monitoring.yaml"),
        ),
        Kind("alert_routing", check_alert_routing, _settings_seed(ALERT_DEFINITION, ALERT_KEYS)),
        Kind("dd_checklist", check_dd_checklist, _settings_seed(DD_DEFINITION, DD_KEYS)),
    )
}
