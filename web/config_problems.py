"""The problems of a configuration draft in the reader's language.

Each problem the validators find (``workflow.risk.governance.kinds.Problem``: the rule
set's, the monitoring rules', alert routing's, the checklist's, a robot channel's and a
workflow definition's) carries a stable ``code`` and the ``params`` its sentence needs;
this module words them, values and names included. A problem without a code of its own
(``config.invalid``) or with a code not listed here is shown in the validator's English.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from flask_babel import gettext as _


def _listed(words: Any) -> str:
    return _(", ").join(str(w) for w in words or [])


def _kind(kind: Any) -> str:
    """A guard, effect or task: the word for what a definition names."""
    words = {"guard": _("guard"), "effect": _("effect"), "task": _("task")}
    return words.get(str(kind), str(kind))


def _upper(p: Mapping[str, Any]) -> str:
    return str(p.get("max")) if p.get("max") is not None else "∞"


def _config(p: Mapping[str, Any]) -> dict[str, Callable[[], str]]:
    return {
        "config.yaml": lambda: _("Not valid YAML: %(error)s", error=p.get("error")),
        "config.not_mapping": lambda: _("The document must be a mapping of keys to values."),
        "config.not_mapping_with": lambda: _(
            "The document must be a mapping with %(keys)s.", keys=_listed(p.get("keys"))
        ),
        "config.version": lambda: _(
            "The version must be a whole number from 1; %(value)s is not.", value=p.get("value")
        ),
        "config.unknown_key": lambda: _(
            "Unknown key; allowed here: %(allowed)s.", allowed=_listed(p.get("allowed"))
        ),
        "config.required": lambda: _("This key is required."),
        "config.names": lambda: _(
            "Must be a list of names from %(allowed)s.", allowed=_listed(p.get("allowed"))
        ),
        "config.unknown_name": lambda: _(
            "Unknown value %(value)s; use one of %(allowed)s.",
            value=p.get("value"),
            allowed=_listed(p.get("allowed")),
        ),
        "config.sla_levels": lambda: _("Map each alert level to {respond, rectify}."),
        "config.unknown_level": lambda: _(
            "Unknown level %(value)s; use one of %(allowed)s.",
            value=p.get("value"),
            allowed=_listed(p.get("allowed")),
        ),
        "config.sla_mapping": lambda: _("Must be a mapping such as {respond: 4h}."),
        "config.boolean": lambda: _("Must be true or false."),
        "config.duration": lambda: _(
            "%(value)s is not a duration; write e.g. 4h or 2d.", value=p.get("value")
        ),
        "config.routing": lambda: _("Must be a mapping with client_owner, roles and rules."),
        "config.routing_rule": lambda: _("Must be a mapping with when and roles or users."),
        "config.routing_rules": lambda: _("List the rules, each {when: …, roles: […]}."),
        "config.users": lambda: _("Must be a list of user names, e.g. [alice, bob]."),
        "config.channels": lambda: _(
            "Must be a list of channels, e.g. [{type: wecom, url: '${RISKLOOP_WECOM_URL}'}]."
        ),
        "config.business_hours": lambda: _('Write {start: "09:00", end: "18:00"}.'),
        "config.clock": lambda: _(
            '%(value)s is not a time of day; write e.g. "09:00".', value=p.get("value")
        ),
        "config.digest_at": lambda: _(
            '%(value)s is not a time of day; write e.g. "21:00" (24-hour, in quotes).',
            value=p.get("value"),
        ),
        "config.checklists": lambda: _("Map each client type to its own checklist."),
        "config.risk_grades": lambda: _("Must be a non-empty list of grade names."),
        "config.checklist": lambda: _("Map each item key to its labels."),
        "config.item_key": lambda: _(
            "Item key %(value)s must be a snake_case word.", value=p.get("value")
        ),
        "config.item_labels": lambda: _("Give the labels {zh-CN: …, en: …}, both non-empty."),
        "config.reason_percent": lambda: _(
            "The reason says %(percent)s %% but the condition %(condition)s has the numbers "
            "%(numbers)s; make the reason say what the condition checks.",
            percent=p.get("percent"),
            condition=p.get("condition"),
            numbers=_listed(p.get("numbers")) or _("none"),
        ),
        "config.title_number": lambda: _(
            "The title says %(number)s but the rule counts with the numbers %(numbers)s; "
            "make the title say what the rule checks.",
            number=p.get("number"),
            numbers=_listed(p.get("numbers")) or _("none"),
        ),
    }


def _rules(p: Mapping[str, Any]) -> dict[str, Callable[[], str]]:
    return {
        "rules.expression_unknown_name": lambda: _(
            "The expression %(expression)s reads the unknown name %(name)s; the facts are "
            "%(facts)s.",
            expression=p.get("expression"),
            name=p.get("name"),
            facts=_listed(p.get("facts")),
        ),
        "rules.expression_types": lambda: _(
            "The expression %(expression)s failed (%(error)s): CEL never mixes whole and "
            "decimal numbers, so write 80.0 rather than 80 next to a decimal fact.",
            expression=p.get("expression"),
            error=p.get("error"),
        ),
        "rules.expression_failed": lambda: _(
            "The expression %(expression)s failed: %(error)s",
            expression=p.get("expression"),
            error=p.get("error"),
        ),
        "rules.expression_number": lambda: _(
            "The expression %(expression)s must give a number, not %(value)s.",
            expression=p.get("expression"),
            value=p.get("value"),
        ),
        "rules.expression_range": lambda: _(
            "The expression %(expression)s gave %(value)s, outside the range %(min)s–%(max)s.",
            expression=p.get("expression"),
            value=p.get("value"),
            min=p.get("min"),
            max=_upper(p),
        ),
        "rules.expression_boolean": lambda: _(
            "The expression %(expression)s must give true or false, not %(value)s.",
            expression=p.get("expression"),
            value=p.get("value"),
        ),
        "rules.expression_text": lambda: _(
            "Write a CEL expression in quotes; %(value)s is not one.", value=p.get("value")
        ),
        "rules.expression_parse": lambda: _(
            "The expression %(expression)s does not parse: %(error)s; fix the CEL syntax.",
            expression=p.get("expression"),
            error=p.get("error"),
        ),
        "rules.expression_names": lambda: _(
            "The expression %(expression)s uses the unknown name(s) %(names)s; it may use "
            "%(allowed)s.",
            expression=p.get("expression"),
            names=_listed(p.get("names")),
            allowed=_listed(p.get("allowed")),
        ),
        "rules.mapping": lambda: _("Must be a mapping, not %(value)s.", value=p.get("value")),
        "rules.unknown_key": lambda: _(
            "Unknown key; allowed here: %(allowed)s.", allowed=_listed(p.get("allowed"))
        ),
        "rules.list": lambda: _("Must be a non-empty list, not %(value)s.", value=p.get("value")),
        "rules.text": lambda: _("Must be non-empty text, not %(value)s.", value=p.get("value")),
        "rules.number": lambda: _("Must be a number, not %(value)s.", value=p.get("value")),
        "rules.range": lambda: _(
            "%(value)s is outside the range %(min)s–%(max)s.",
            value=p.get("value"),
            min=p.get("min"),
            max=_upper(p),
        ),
        "rules.at_least": lambda: _(
            "%(value)s is below the minimum %(min)s.", value=p.get("value"), min=p.get("min")
        ),
        "rules.rating": lambda: _(
            "Unknown rating %(value)s; use one of %(allowed)s.",
            value=p.get("value"),
            allowed=_listed(p.get("allowed")),
        ),
        "rules.risk_level": lambda: _(
            "Unknown risk level %(value)s; use one of %(allowed)s.",
            value=p.get("value"),
            allowed=_listed(p.get("allowed")),
        ),
        "rules.duplicate_id": lambda: _("The rule id %(id)s is used twice.", id=p.get("id")),
        "rules.duplicate_indicator": lambda: _(
            "The indicator id %(id)s is used twice.", id=p.get("id")
        ),
        "rules.fact": lambda: _(
            "%(fact)s is not a fact; name one of %(facts)s (with fact: when the id differs).",
            fact=p.get("fact"),
            facts=_listed(p.get("facts")),
        ),
        "rules.weight_zero": lambda: _("The weight must be above 0; remove the indicator instead."),
        "rules.weights_sum": lambda: _(
            "The weights must sum to 1; they sum to %(total)s.", total=p.get("total")
        ),
        "rules.bands_order": lambda: _(
            "List the bands from the highest min down: %(min)s follows %(previous)s.",
            min=p.get("min"),
            previous=p.get("previous"),
        ),
        "rules.bands_floor": lambda: _(
            "Scores from 0 to below %(min)s fall in no band; the lowest band must have min: 0.",
            min=p.get("min"),
        ),
        "rules.round_to": lambda: _(
            "Must be a whole number of yuan from 1, not %(value)s.", value=p.get("value")
        ),
        "rules.no_indicator": lambda: _(
            "No indicator applies to a client of type %(client_type)s; give at least one "
            "without applies.",
            client_type=p.get("client_type"),
        ),
        "monitoring.words": lambda: _(
            "Must be a non-empty list of text, not %(value)s.", value=p.get("value")
        ),
        "monitoring.whole": lambda: _(
            "Must be a whole number, not %(value)s.", value=p.get("value")
        ),
        "monitoring.match_all": lambda: _(
            "The rule matches every event; name types, a threshold, a score_drop or a when "
            "condition."
        ),
        "monitoring.condition_unknown_name": lambda: _(
            "The condition %(expression)s reads %(name)s, which sample events lack; guard "
            "optional keys with has(), e.g. has(event.data.certainty).",
            expression=p.get("expression"),
            name=p.get("name"),
        ),
        "monitoring.event_type": lambda: _(
            "Unknown event type %(value)s; use one of %(allowed)s.",
            value=p.get("value"),
            allowed=_listed(p.get("allowed")),
        ),
        "monitoring.no_action": lambda: _("A rule must do something: give alert, tag or rescore."),
        "monitoring.tag_length": lambda: _("At most %(n)s characters.", n=p.get("max")),
    }


def _channels(p: Mapping[str, Any]) -> dict[str, Callable[[], str]]:
    return {
        "channel.mapping": lambda: _(
            "A channel is a mapping such as {type: wecom, url: '${RISKLOOP_WECOM_URL}'}."
        ),
        "channel.unknown_keys": lambda: _(
            "Unknown key(s) %(keys)s; use %(allowed)s.",
            keys=_listed(p.get("keys")),
            allowed=_listed(p.get("allowed")),
        ),
        "channel.type": lambda: _(
            "Unknown robot type %(value)s; use one of %(allowed)s.",
            value=p.get("value"),
            allowed=_listed(p.get("allowed")),
        ),
        "channel.text": lambda: _(
            "%(name)s must be text, e.g. '%(example)s'.",
            name=p.get("name"),
            example=p.get("example"),
        ),
        "channel.unset": lambda: _(
            "%(name)s names %(variables)s, which is not set; set the environment variable "
            "(or setting) or remove the channel.",
            name=p.get("name"),
            variables=_listed(p.get("variables")),
        ),
        "channel.url": lambda: _("The url must be the robot's webhook address (https://…)."),
        "channel.unsigned": lambda: _(
            "WeCom robots are not signed: remove secret (the key is part of the url)."
        ),
        "channel.language": lambda: _(
            "Unknown language %(value)s; use one of %(allowed)s.",
            value=p.get("value"),
            allowed=_listed(p.get("allowed")),
        ),
        "channel.events": lambda: _(
            "events must be a list of %(allowed)s.", allowed=_listed(p.get("allowed"))
        ),
    }


def _definitions(p: Mapping[str, Any]) -> dict[str, Callable[[], str]]:
    return {
        "definition.not_yaml": lambda: _("Not valid YAML: %(error)s", error=p.get("error")),
        "definition.not_mapping": lambda: _(
            "The definition must be a mapping with name, version, states and transitions."
        ),
        "definition.unknown_key": lambda: _(
            "Unknown key; allowed here: %(allowed)s.", allowed=_listed(p.get("allowed"))
        ),
        "definition.required": lambda: _("This key is required."),
        "definition.identifier": lambda: _(
            "Must be an identifier such as %(example)s.", example=p.get("example")
        ),
        "definition.version": lambda: _(
            "The version must be a positive whole number; %(value)s is not.",
            value=p.get("value"),
        ),
        "definition.title": lambda: _(
            "Map languages to text, e.g. {zh-CN: 客户准入, en: Onboarding}."
        ),
        "definition.initial_unknown": lambda: _(
            "The initial state %(state)s does not exist; use one of %(states)s.",
            state=p.get("state"),
            states=_listed(p.get("states")),
        ),
        "definition.list": lambda: _("Must be a list."),
        "definition.duration": lambda: _(
            "%(value)s is not a duration; write e.g. 90s, 30m, 48h, 2d or 1w.",
            value=p.get("value"),
        ),
        "definition.states": lambda: _("Map each state name to its settings."),
        "definition.state_name": lambda: _("A state name must be an identifier."),
        "definition.state": lambda: _("A state is a mapping (label, final, sla)."),
        "definition.no_final": lambda: _("At least one state needs final: true."),
        "definition.requires": lambda: _("List data keys (identifiers), e.g. [collector]."),
        "definition.call_args": lambda: _(
            "The arguments of %(kind)s %(name)s must be a mapping.",
            kind=_kind(p.get("kind")),
            name=p.get("name"),
        ),
        "definition.call": lambda: _(
            "Write a %(kind)s name or {name: {arguments}}.", kind=_kind(p.get("kind"))
        ),
        "definition.unknown_call": lambda: _(
            "Unknown %(kind)s %(name)s; known: %(known)s.",
            kind=_kind(p.get("kind")),
            name=p.get("name"),
            known=_listed(p.get("known")) or _("none"),
        ),
        "definition.unknown_state": lambda: _(
            "Unknown state %(state)s; use one of %(states)s.",
            state=p.get("state"),
            states=_listed(p.get("states")),
        ),
        "definition.transition": lambda: _(
            "A transition is a mapping with trigger, source, dest and roles."
        ),
        "definition.source_final": lambda: _(
            "%(state)s is final; a final state has no way out.", state=p.get("state")
        ),
        "definition.outcomes": lambda: _("List the states an effect may send the case to."),
        "definition.roles_empty": lambda: _("List at least one role."),
        "definition.unknown_role": lambda: _(
            "Unknown role %(role)s; known: %(known)s.",
            role=p.get("role"),
            known=_listed(p.get("known")),
        ),
        "definition.role_non_acting": lambda: _(
            "The role %(role)s may never act on a workflow.", role=p.get("role")
        ),
        "definition.condition": lambda: _(
            "The condition %(condition)s does not parse: %(error)s",
            condition=p.get("condition"),
            error=p.get("error"),
        ),
        "definition.payload": lambda: _("Map field names to {type, required, …}."),
        "definition.payload_reserved": lambda: _(
            "%(field)s is reserved; every action already accepts it.", field=p.get("field")
        ),
        "definition.payload_field": lambda: _("Write a type name or a mapping."),
        "definition.payload_type": lambda: _(
            "Unknown type %(type)s; use one of %(types)s.",
            type=p.get("type"),
            types=_listed(p.get("types")),
        ),
        "definition.payload_items": lambda: _(
            "Unknown item type %(type)s; use one of %(types)s.",
            type=p.get("type"),
            types=_listed(p.get("types")),
        ),
        "definition.timer": lambda: _("A timer is a mapping with state, after and trigger."),
        "definition.timer_state": lambda: _(
            "The timer's state %(state)s does not exist.", state=p.get("state")
        ),
        "definition.timer_final": lambda: _("A final state cannot have timers."),
        "definition.timer_trigger": lambda: _(
            "No transition %(trigger)s leaves the state %(state)s.",
            trigger=p.get("trigger"),
            state=p.get("state"),
        ),
        "definition.ambiguous": lambda: _(
            "%(trigger)s is ambiguous with %(other)s from the state %(state)s: give both a "
            "condition that tells them apart.",
            trigger=p.get("trigger"),
            other=p.get("other"),
            state=p.get("state"),
        ),
        "definition.unreachable": lambda: _(
            "The state %(state)s cannot be reached from the initial state %(initial)s.",
            state=p.get("state"),
            initial=p.get("initial"),
        ),
        "definition.dead_end": lambda: _(
            "The state %(state)s is not final and has no transition out; add one or mark it "
            "final: true.",
            state=p.get("state"),
        ),
        "definition.duplicate_version": lambda: _(
            "%(name)s v%(version)s is also defined in %(file)s.",
            name=p.get("name"),
            version=p.get("version"),
            file=p.get("file"),
        ),
        "definition.other_name": lambda: _(
            "The name is %(name)s; a draft of this definition keeps the name %(expected)s.",
            name=p.get("name"),
            expected=p.get("expected"),
        ),
    }


_TABLES = (_config, _rules, _channels, _definitions)


def problem_words(code: str, params: Mapping[str, Any]) -> str | None:
    """The sentence for ``code`` with its ``params``, or None for a code not worded here."""
    for table in _TABLES:
        say = table(params).get(code)
        if say is not None:
            return say()
    return None


def problem_text(problem: Mapping[str, Any]) -> str:
    """One problem (``file``, ``key``, ``message``, ``code``, ``params``) in the reader's
    language; the validator's English when its code is not worded here."""
    code = problem.get("code")
    if code:
        text = problem_words(str(code), problem.get("params") or {})
        if text is not None:
            return text
    message = str(problem.get("message") or "")
    return _(message) if message else message
