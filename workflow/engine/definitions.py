"""Workflow definitions as data: the YAML schema, its validation and the compiled form.

A definition file is refused, with a message naming the file, the key and the fix,
when it has an unknown role/guard/effect/task, an unreachable state, a non-final
state with no way out, a transition out of a final state, a timer on a missing
state, ambiguous transitions, or an expression that does not parse. Every problem of a
file is found in one pass (``DefinitionError.problems``), each with its key path
(``transitions[3].dest``) and a coded message (``definition.*`` with its params).
"""

from __future__ import annotations

import hashlib
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import timedelta
from pathlib import Path
from typing import Any

import yaml
from marshmallow import Schema, fields, validate

from workflow.engine.expressions import Expression
from workflow.engine.machine import compile_machine
from workflow.engine.policy import RolePolicy
from workflow.engine.registry import Registry
from workflow.errors import DefinitionError, Message, shown
from workflow.field_messages import Schema as CodedSchema
from workflow.platform.durations import parse_duration
from workflow.platform.hygiene import MAX_AMOUNT, MAX_INTEGER, FreeText
from workflow.records.identity import SYSTEM_ROLE

_TOP_KEYS = {
    "name",
    "version",
    "title",
    "description",
    "subject",
    "initial",
    "states",
    "transitions",
    "timers",
    "settings",
}
_STATE_KEYS = {"label", "final", "sla", "description", "requires"}
_TRANSITION_KEYS = {
    "trigger",
    "source",
    "dest",
    "roles",
    "guards",
    "condition",
    "payload",
    "effects",
    "tasks",
    "label",
    "comment_required",
    "outcomes",
}
_TIMER_KEYS = {"state", "after", "trigger", "repeat"}
_PAYLOAD_KEYS = {"type", "required", "enum", "max_length", "min", "max", "items", "label"}
_PAYLOAD_TYPES: dict[str, Callable[[dict[str, Any]], fields.Field]] = {
    "string": lambda spec: FreeText(validate=_string_validators(spec)),
    "integer": lambda spec: fields.Integer(strict=True, validate=_range(spec, MAX_INTEGER)),
    "number": lambda spec: fields.Float(allow_nan=False, validate=_range(spec, MAX_AMOUNT)),
    "boolean": lambda spec: fields.Boolean(),
    "object": lambda spec: fields.Dict(),
    "array": lambda spec: fields.List(
        _PAYLOAD_TYPES[spec.get("items", "string")]({}) if spec.get("items") else fields.Raw(),
        validate=validate.Length(max=spec.get("max_length", 1000)),
    ),
}


def _string_validators(spec: dict[str, Any]) -> list[Any]:
    checks: list[Any] = [validate.Length(max=spec.get("max_length", 10000))]
    if spec.get("enum"):
        checks.append(validate.OneOf(spec["enum"]))
    if spec.get("required"):
        checks.append(
            validate.Length(min=1, error=Message("field.not_empty", "Must not be empty."))
        )
    return checks


def _range(spec: dict[str, Any], bound: int) -> list[Any]:
    """The declared range; a side left open is bounded by ``bound`` (whole numbers fit 64
    bits, other numbers stay below the money maximum, ``workflow.platform.hygiene``)."""
    return [validate.Range(min=spec.get("min", -bound), max=spec.get("max", bound))]


@dataclass(frozen=True)
class NamedCall:
    """A guard or effect named in YAML, with its arguments."""

    name: str
    args: dict[str, Any] = field(default_factory=dict)


@dataclass
class StateDef:
    name: str
    label: dict[str, str]
    final: bool = False
    sla: timedelta | None = None
    # Keys of the case data an instance must hold in this state; an instance moved to a
    # new definition version (``workflow.engine.migration``) without them stays where it is.
    requires: tuple[str, ...] = ()


@dataclass
class TransitionDef:
    index: int
    trigger: str
    sources: tuple[str, ...]
    dest: str
    roles: frozenset[str]
    guards: tuple[NamedCall, ...] = ()
    condition: Expression | None = None
    payload: dict[str, dict[str, Any]] = field(default_factory=dict)
    payload_schema: Schema | None = None
    effects: tuple[NamedCall, ...] = ()
    tasks: tuple[str, ...] = ()
    label: dict[str, str] = field(default_factory=dict)
    comment_required: bool = False
    # Other destinations an effect may choose (e.g. ``conflict`` when data went stale).
    outcomes: tuple[str, ...] = ()

    @property
    def system_only(self) -> bool:
        return self.roles == frozenset({SYSTEM_ROLE})


@dataclass
class TimerDef:
    state: str
    after: timedelta
    trigger: str
    repeat: bool = False


@dataclass
class Definition:
    """One compiled version of a workflow definition, shared by all its instances."""

    name: str
    version: int
    title: dict[str, str]
    subject: str | None
    initial: str
    states: dict[str, StateDef]
    transitions: list[TransitionDef]
    timers: list[TimerDef]
    settings: dict[str, Any]
    content_hash: str
    source: str
    file: str
    by_trigger: dict[str, list[TransitionDef]] = field(default_factory=dict)
    machine: Any = None

    def transitions_from(self, state: str) -> list[TransitionDef]:
        return [t for t in self.transitions if state in t.sources]

    def candidates(self, trigger: str, state: str) -> list[TransitionDef]:
        return [t for t in self.by_trigger.get(trigger, ()) if state in t.sources]

    def timers_for(self, state: str) -> list[TimerDef]:
        return [t for t in self.timers if t.state == state]

    def is_final(self, state: str) -> bool:
        return self.states[state].final

    def label(self, lang: str = "zh-CN") -> str:
        return self.title.get(lang) or self.title.get("en") or self.name


def content_hash(raw: bytes) -> str:
    return hashlib.sha256(raw).hexdigest()


def parse_definition(
    raw: bytes | str, file: str, registry: Registry, policy: RolePolicy
) -> Definition:
    """Validate and compile one definition's YAML text.

    Raises:
        DefinitionError: naming ``file``, the offending key and how to fix it; every
            problem found in one pass is in its ``problems`` (and its detail).
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise DefinitionError(
            file,
            "(document)",
            Message("definition.not_yaml", f"is not valid YAML: {exc}", error=str(exc)),
        ) from exc
    return _Compiler(file, registry, policy).compile(doc, raw)


def _unknown_key(allowed: set[str]) -> Message:
    names = sorted(allowed)
    return Message(
        "definition.unknown_key",
        f"is not a known key; allowed: {', '.join(names)}",
        allowed=names,
    )


_REQUIRED = Message("definition.required", "is required")


class _Compiler:
    """Checks a whole document in one pass: each problem is noted (``report``) and the
    check goes on with the next part, so one mistake does not hide the next. A part with
    a problem is left out of the checks that need it whole (a transition with an unknown
    state is not walked by the reachability check), so that no problem is a mere echo of
    another."""

    def __init__(self, file: str, registry: Registry, policy: RolePolicy) -> None:
        self.file = file
        self.registry = registry
        self.policy = policy
        self.problems: list[DefinitionError] = []

    def fail(self, key: str, message: str) -> DefinitionError:
        return DefinitionError(self.file, key, message)

    def report(self, key: str, message: str) -> None:
        self.problems.append(self.fail(key, message))

    def compile(self, doc: Any, raw: bytes) -> Definition:
        if not isinstance(doc, dict):
            raise self.fail(
                "(document)",
                Message(
                    "definition.not_mapping",
                    "must be a mapping with name, version, states, transitions",
                ),
            )
        self._no_unknown(doc, _TOP_KEYS, "")
        for key in ("name", "version", "initial", "states", "transitions"):
            if key not in doc:
                self.report(key, _REQUIRED)
        name: Any = doc.get("name")
        if "name" in doc and (not isinstance(name, str) or not name.isidentifier()):
            self.report(
                "name",
                Message(
                    "definition.identifier",
                    "must be an identifier such as client_onboarding",
                    example="client_onboarding",
                ),
            )
        version: Any = doc.get("version")
        if "version" in doc and (
            not isinstance(version, int) or isinstance(version, bool) or version < 1
        ):
            self.report(
                "version",
                Message("definition.version", "must be a positive integer", value=shown(version)),
            )
        title = doc.get("title") or {"en": name}
        if not isinstance(title, dict):
            self.report(
                "title",
                Message(
                    "definition.title",
                    "must map languages to text, e.g. {zh-CN: 客户准入, en: Onboarding}",
                ),
            )

        states = self._states(doc["states"]) if "states" in doc else {}
        initial: Any = doc.get("initial")
        if "initial" in doc and states and initial not in states:
            self.report(
                "initial",
                Message(
                    "definition.initial_unknown",
                    f"names unknown state {initial!r}; use one of {sorted(states)}",
                    state=shown(initial),
                    states=sorted(states),
                ),
            )
        listed = self._as_list(doc.get("transitions", []), "transitions")
        compiled = [self._transition(i, t, states) for i, t in enumerate(listed)]
        transitions = [t for t in compiled if t is not None]
        timers = [
            timer
            for i, t in enumerate(self._as_list(doc.get("timers") or [], "timers"))
            if (timer := self._timer(i, t, states, _declared(listed))) is not None
        ]
        by_trigger: dict[str, list[TransitionDef]] = {}
        for t in transitions:
            by_trigger.setdefault(t.trigger, []).append(t)
        self._check_ambiguity(by_trigger)
        if not self.problems:
            # the graph of a document with a broken part would only echo that part
            self._check_graph(states, initial, transitions, timers)
        if self.problems:
            raise DefinitionError.collected(self.problems)
        definition = Definition(
            name=name,
            version=version,
            title=title,
            subject=doc.get("subject"),
            initial=initial,
            states=states,
            transitions=transitions,
            timers=timers,
            settings=doc.get("settings") or {},
            content_hash=content_hash(raw),
            source=raw.decode("utf-8"),
            file=self.file,
            by_trigger=by_trigger,
        )
        definition.machine = compile_machine(definition)
        return definition

    def _as_list(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list):
            self.report(key, Message("definition.list", "must be a list"))
            return []
        return value

    def _no_unknown(self, mapping: dict[str, Any], allowed: set[str], where: str) -> bool:
        """Whether ``mapping`` has only ``allowed`` keys (each other one is reported)."""
        unknown = sorted(set(mapping) - allowed, key=str)
        for name in unknown:
            self.report(f"{where}.{name}" if where else str(name), _unknown_key(allowed))
        return not unknown

    def _duration(self, value: Any, key: str) -> timedelta | None:
        try:
            return parse_duration(value)
        except ValueError as exc:
            self.report(
                key,
                Message("definition.duration", str(exc), value=shown(value), error=str(exc)),
            )
            return None

    def _states(self, raw: Any) -> dict[str, StateDef]:
        if not isinstance(raw, dict) or not raw:
            self.report(
                "states",
                Message("definition.states", "must map state names to their settings"),
            )
            return {}
        states: dict[str, StateDef] = {}
        for sname, spec in raw.items():
            where = f"states.{sname}"
            spec = spec or {}
            if not isinstance(sname, str) or not sname.isidentifier():
                self.report(
                    where,
                    Message("definition.state_name", "a state name must be an identifier"),
                )
                continue
            if not isinstance(spec, dict):
                self.report(
                    where, Message("definition.state", "must be a mapping (label, final, sla)")
                )
                continue
            self._no_unknown(spec, _STATE_KEYS, where)
            sla = None
            if spec.get("sla") is not None:
                sla = self._duration(spec["sla"], f"{where}.sla")
            label = spec.get("label") or {"en": sname}
            if isinstance(label, str):
                label = {"en": label, "zh-CN": label}
            states[sname] = StateDef(
                sname, label, bool(spec.get("final", False)), sla, self._requires(spec, where)
            )
        if states and not any(s.final for s in states.values()):
            self.report(
                "states",
                Message("definition.no_final", "needs at least one state with final: true"),
            )
        return states

    def _requires(self, spec: dict[str, Any], where: str) -> tuple[str, ...]:
        raw = spec.get("requires") or []
        if not isinstance(raw, list) or not all(
            isinstance(key, str) and key.isidentifier() for key in raw
        ):
            self.report(
                f"{where}.requires",
                Message(
                    "definition.requires", "must list data keys (identifiers), e.g. [collector]"
                ),
            )
            return ()
        return tuple(raw)

    def _named(
        self, raw: Any, where: str, table: dict[str, Any], kind: str
    ) -> tuple[NamedCall, ...] | None:
        """The calls listed at ``where`` (None: one of them is reported)."""
        calls = []
        if raw is not None and not isinstance(raw, list):
            self.report(where, Message("definition.list", "must be a list"))
            return None
        ok = True
        for i, item in enumerate(raw or []):
            if isinstance(item, str):
                call = NamedCall(item)
            elif isinstance(item, dict) and len(item) == 1:
                ((cname, args),) = item.items()
                if args is not None and not isinstance(args, dict):
                    self.report(
                        f"{where}[{i}]",
                        Message(
                            "definition.call_args",
                            f"arguments of {kind} {cname!r} must be a mapping",
                            kind=kind,
                            name=shown(cname),
                        ),
                    )
                    ok = False
                    continue
                call = NamedCall(cname, dict(args or {}))
            else:
                self.report(
                    f"{where}[{i}]",
                    Message(
                        "definition.call",
                        f"must be a {kind} name or {{name: {{args}}}}",
                        kind=kind,
                    ),
                )
                ok = False
                continue
            if call.name not in table:
                known = sorted(table)
                self.report(
                    f"{where}[{i}]",
                    Message(
                        "definition.unknown_call",
                        f"unknown {kind} {call.name!r}; known: "
                        f"{', '.join(known) or 'none registered'}",
                        kind=kind,
                        name=shown(call.name),
                        known=known,
                    ),
                )
                ok = False
                continue
            calls.append(call)
        return tuple(calls) if ok else None

    def _state_ref(self, value: Any, key: str, states: dict[str, StateDef]) -> bool:
        if isinstance(value, str) and value in states:
            return True
        self.report(
            key,
            Message(
                "definition.unknown_state",
                f"unknown state {value!r}; use one of {', '.join(sorted(states))}",
                state=shown(value),
                states=sorted(states),
            ),
        )
        return False

    def _transition(
        self, index: int, raw: Any, states: dict[str, StateDef]
    ) -> TransitionDef | None:
        """The compiled transition (None: a problem in it was reported)."""
        where = f"transitions[{index}]"
        if not isinstance(raw, dict):
            self.report(
                where,
                Message(
                    "definition.transition",
                    "must be a mapping with trigger, source, dest, roles",
                ),
            )
            return None
        before = len(self.problems)
        self._no_unknown(raw, _TRANSITION_KEYS, where)
        for key in ("trigger", "source", "dest", "roles"):
            if key not in raw:
                self.report(f"{where}.{key}", _REQUIRED)
        trigger: Any = raw.get("trigger")
        if "trigger" in raw and (not isinstance(trigger, str) or not trigger.isidentifier()):
            self.report(
                f"{where}.trigger",
                Message(
                    "definition.identifier",
                    "must be an identifier such as approve",
                    example="approve",
                ),
            )
        source = raw.get("source", [])
        sources = source if isinstance(source, list) else [source]
        for s in sources:
            if self._state_ref(s, f"{where}.source", states) and states[s].final:
                self.report(
                    f"{where}.source",
                    Message(
                        "definition.source_final",
                        f"{s!r} is final; a final state has no way out",
                        state=s,
                    ),
                )
        if "dest" in raw:
            self._state_ref(raw["dest"], f"{where}.dest", states)
        outcomes = raw.get("outcomes") or []
        if not isinstance(outcomes, list):
            self.report(
                f"{where}.outcomes",
                Message(
                    "definition.outcomes", "must list states an effect may send the instance to"
                ),
            )
            outcomes = []
        for o in outcomes:
            self._state_ref(o, f"{where}.outcomes", states)
        roles = raw.get("roles", [])
        roles = roles if isinstance(roles, list) else [roles]
        if "roles" in raw and not roles:
            self.report(
                f"{where}.roles", Message("definition.roles_empty", "must list at least one role")
            )
        for r in roles:
            if not isinstance(r, str) or r not in self.policy.roles:
                known = sorted(self.policy.roles)
                self.report(
                    f"{where}.roles",
                    Message(
                        "definition.unknown_role",
                        f"unknown role {r!r}; known: {', '.join(known)}",
                        role=shown(r),
                        known=known,
                    ),
                )
            elif r in self.policy.non_acting:
                self.report(
                    f"{where}.roles",
                    Message(
                        "definition.role_non_acting",
                        f"{r!r} may never act on a workflow",
                        role=shown(r),
                    ),
                )
        condition = None
        if raw.get("condition") is not None:
            try:
                condition = Expression(str(raw["condition"]))
            except ValueError as exc:
                self.report(
                    f"{where}.condition",
                    Message(
                        "definition.condition",
                        f"does not parse: {exc}",
                        condition=shown(raw["condition"]),
                        error=str(exc),
                    ),
                )
        payload = raw.get("payload") or {}
        schema = self._payload_schema(payload, f"{where}.payload")
        tasks = self._named(raw.get("tasks"), f"{where}.tasks", self.registry.tasks, "task")
        guards = self._named(raw.get("guards"), f"{where}.guards", self.registry.guards, "guard")
        effects = self._named(
            raw.get("effects"), f"{where}.effects", self.registry.effects, "effect"
        )
        if (
            len(self.problems) > before
            or schema is None
            or tasks is None
            or guards is None
            or effects is None
        ):
            return None
        label = raw.get("label") or {"en": trigger}
        if isinstance(label, str):
            label = {"en": label, "zh-CN": label}
        return TransitionDef(
            index=index,
            trigger=trigger,
            sources=tuple(sources),
            dest=raw["dest"],
            roles=frozenset(roles),
            guards=guards,
            condition=condition,
            payload=payload,
            payload_schema=schema,
            effects=effects,
            tasks=tuple(c.name for c in tasks),
            label=label,
            comment_required=bool(raw.get("comment_required", False)),
            outcomes=tuple(outcomes),
        )

    def _payload_schema(self, payload: Any, where: str) -> Schema | None:
        """The payload's schema (None: a problem in it was reported)."""
        if not isinstance(payload, dict):
            self.report(
                where,
                Message("definition.payload", "must map field names to {type, required, ...}"),
            )
            return None
        before = len(self.problems)
        declared: dict[str, Any] = {}
        for fname, spec in payload.items():
            fwhere = f"{where}.{fname}"
            if fname in ("comment", "expected_version"):
                self.report(
                    fwhere,
                    Message(
                        "definition.payload_reserved",
                        "is reserved; every action already accepts it",
                        field=shown(fname),
                    ),
                )
                continue
            spec = {"type": spec} if isinstance(spec, str) else (spec or {})
            if not isinstance(spec, dict):
                self.report(
                    fwhere,
                    Message("definition.payload_field", "must be a type name or a mapping"),
                )
                continue
            if not self._no_unknown(spec, _PAYLOAD_KEYS, fwhere):
                continue
            ftype = spec.get("type", "string")
            if ftype not in _PAYLOAD_TYPES:
                self.report(
                    f"{fwhere}.type",
                    Message(
                        "definition.payload_type",
                        f"unknown type {ftype!r}; use one of {sorted(_PAYLOAD_TYPES)}",
                        type=shown(ftype),
                        types=sorted(_PAYLOAD_TYPES),
                    ),
                )
                continue
            if ftype == "array" and spec.get("items") and spec["items"] not in _PAYLOAD_TYPES:
                self.report(
                    f"{fwhere}.items",
                    Message(
                        "definition.payload_items",
                        f"unknown item type {spec['items']!r}",
                        type=shown(spec["items"]),
                        types=sorted(_PAYLOAD_TYPES),
                    ),
                )
                continue
            field_obj = _PAYLOAD_TYPES[ftype](spec)
            field_obj.required = bool(spec.get("required", False))
            if not field_obj.required:
                field_obj.allow_none = True
            declared[fname] = field_obj
            payload[fname] = spec
        if len(self.problems) > before:
            return None
        return CodedSchema.from_dict(declared, name=f"Payload_{abs(hash(where))}")()

    def _timer(
        self, index: int, raw: Any, states: dict[str, StateDef], declared: set[tuple[str, str]]
    ) -> TimerDef | None:
        """The timer (None: a problem in it was reported); ``declared``: the (trigger,
        source) pairs the transitions list, a transition with a problem of its own too."""
        where = f"timers[{index}]"
        if not isinstance(raw, dict):
            self.report(
                where, Message("definition.timer", "must be a mapping with state, after, trigger")
            )
            return None
        before = len(self.problems)
        self._no_unknown(raw, _TIMER_KEYS, where)
        for key in ("state", "after", "trigger"):
            if key not in raw:
                self.report(f"{where}.{key}", _REQUIRED)
        state: Any = raw.get("state")
        if "state" not in raw:
            pass
        elif not isinstance(state, str) or state not in states:
            self.report(
                f"{where}.state",
                Message(
                    "definition.timer_state",
                    f"timer on missing state {state!r}",
                    state=shown(state),
                    states=sorted(states),
                ),
            )
        elif states[state].final:
            self.report(
                f"{where}.state",
                Message("definition.timer_final", "a final state cannot have timers", state=state),
            )
        elif "trigger" in raw and (raw["trigger"], state) not in declared:
            self.report(
                f"{where}.trigger",
                Message(
                    "definition.timer_trigger",
                    f"no transition {raw['trigger']!r} leaves state {state!r}",
                    trigger=shown(raw["trigger"]),
                    state=state,
                ),
            )
        after = self._duration(raw["after"], f"{where}.after") if "after" in raw else None
        if len(self.problems) > before or after is None:
            return None
        return TimerDef(state, after, raw["trigger"], bool(raw.get("repeat", False)))

    def _check_ambiguity(self, by_trigger: dict[str, list[TransitionDef]]) -> None:
        for trigger, ts in by_trigger.items():
            for i, a in enumerate(ts):
                for b in ts[i + 1 :]:
                    shared = set(a.sources) & set(b.sources)
                    if shared and (a.condition is None or b.condition is None):
                        state = sorted(shared)[0]
                        self.report(
                            f"transitions[{b.index}].trigger",
                            Message(
                                "definition.ambiguous",
                                f"{trigger!r} is ambiguous with transitions[{a.index}] from "
                                f"{state!r}: give both a condition that tells them apart",
                                trigger=trigger,
                                other=f"transitions[{a.index}]",
                                state=state,
                            ),
                        )

    def _check_graph(
        self,
        states: dict[str, StateDef],
        initial: str,
        transitions: list[TransitionDef],
        timers: list[TimerDef],
    ) -> None:
        outgoing: dict[str, set[str]] = {s: set() for s in states}
        for t in transitions:
            for s in t.sources:
                outgoing[s].add(t.dest)
                outgoing[s].update(t.outcomes)
        seen = {initial}
        queue = deque([initial])
        while queue:
            for nxt in outgoing[queue.popleft()]:
                if nxt not in seen:
                    seen.add(nxt)
                    queue.append(nxt)
        for sname, state in states.items():
            if sname not in seen:
                self.report(
                    f"states.{sname}",
                    Message(
                        "definition.unreachable",
                        f"is unreachable from the initial state {initial!r}",
                        state=sname,
                        initial=initial,
                    ),
                )
            elif not state.final and not outgoing[sname]:
                self.report(
                    f"states.{sname}",
                    Message(
                        "definition.dead_end",
                        "is not final and has no transition out; add one or mark it final: true",
                        state=sname,
                    ),
                )


def _declared(transitions: list[Any]) -> set[tuple[str, str]]:
    """The (trigger, source) pairs the transitions name, checked or not."""
    pairs: set[tuple[str, str]] = set()
    for raw in transitions:
        if not isinstance(raw, dict) or not isinstance(raw.get("trigger"), str):
            continue
        sources = raw.get("source")
        for source in sources if isinstance(sources, list) else [sources]:
            if isinstance(source, str):
                pairs.add((raw["trigger"], source))
    return pairs


def load_folder(folder: Path, registry: Registry, policy: RolePolicy) -> list[Definition]:
    """Parse every ``*.yaml`` workflow file directly in ``folder`` (rules live in ``rules/``).

    Raises:
        DefinitionError: the first invalid file (every problem in it), or two files with the same name and version.
    """
    found: dict[tuple[str, int], Definition] = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        definition = parse_definition(path.read_bytes(), path.name, registry, policy)
        key = (definition.name, definition.version)
        if key in found:
            raise DefinitionError(
                path.name,
                "version",
                Message(
                    "definition.duplicate_version",
                    f"{definition.name} v{definition.version} is also defined in {found[key].file}",
                    name=definition.name,
                    version=definition.version,
                    file=found[key].file,
                ),
            )
        found[key] = definition
    return list(found.values())
