"""Workflow definitions as data: the YAML schema, its validation and the compiled form.

A definition file is refused, with a message naming the file, the key and the fix,
when it has an unknown role/guard/effect/task, an unreachable state, a non-final
state with no way out, a transition out of a final state, a timer on a missing
state, ambiguous transitions, or an expression that does not parse.
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
from workflow.engine.machine import compile_machine, compile_moves
from workflow.engine.policy import RolePolicy
from workflow.engine.registry import Registry
from workflow.errors import DefinitionError, Message
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
    # (trigger, source, transition index, destination): the machine's moves as a table
    moves: frozenset[tuple[str, str, int, str]] | None = None

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
        DefinitionError: naming ``file``, the offending key and how to fix it.
    """
    if isinstance(raw, str):
        raw = raw.encode("utf-8")
    try:
        doc = yaml.safe_load(raw)
    except yaml.YAMLError as exc:
        raise DefinitionError(file, "(document)", f"is not valid YAML: {exc}") from exc
    return _Compiler(file, registry, policy).compile(doc, raw)


class _Compiler:
    def __init__(self, file: str, registry: Registry, policy: RolePolicy) -> None:
        self.file = file
        self.registry = registry
        self.policy = policy

    def fail(self, key: str, message: str) -> DefinitionError:
        return DefinitionError(self.file, key, message)

    def compile(self, doc: Any, raw: bytes) -> Definition:
        if not isinstance(doc, dict):
            raise self.fail(
                "(document)", "must be a mapping with name, version, states, transitions"
            )
        self._no_unknown(doc, _TOP_KEYS, "")
        for key in ("name", "version", "initial", "states", "transitions"):
            if key not in doc:
                raise self.fail(key, "is required")
        name = doc["name"]
        if not isinstance(name, str) or not name.isidentifier():
            raise self.fail("name", "must be an identifier such as client_onboarding")
        version = doc["version"]
        if not isinstance(version, int) or isinstance(version, bool) or version < 1:
            raise self.fail("version", "must be a positive integer")
        title = doc.get("title") or {"en": name}
        if not isinstance(title, dict):
            raise self.fail(
                "title", "must map languages to text, e.g. {zh-CN: 客户准入, en: Onboarding}"
            )

        states = self._states(doc["states"])
        initial = doc["initial"]
        if initial not in states:
            raise self.fail(
                "initial", f"names unknown state {initial!r}; use one of {sorted(states)}"
            )
        transitions = [
            self._transition(i, t, states)
            for i, t in enumerate(_as_list(doc["transitions"], self, "transitions"))
        ]
        timers = [
            self._timer(i, t, states, transitions)
            for i, t in enumerate(_as_list(doc.get("timers") or [], self, "timers"))
        ]
        by_trigger: dict[str, list[TransitionDef]] = {}
        for t in transitions:
            by_trigger.setdefault(t.trigger, []).append(t)
        self._check_ambiguity(by_trigger)
        self._check_graph(states, initial, transitions, timers)
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
        definition.moves = compile_moves(definition)
        return definition

    def _no_unknown(self, mapping: dict[str, Any], allowed: set[str], where: str) -> None:
        unknown = set(mapping) - allowed
        if unknown:
            key = f"{where}.{sorted(unknown)[0]}" if where else sorted(unknown)[0]
            raise self.fail(key, f"is not a known key; allowed: {', '.join(sorted(allowed))}")

    def _states(self, raw: Any) -> dict[str, StateDef]:
        if not isinstance(raw, dict) or not raw:
            raise self.fail("states", "must map state names to their settings")
        states: dict[str, StateDef] = {}
        for sname, spec in raw.items():
            where = f"states.{sname}"
            spec = spec or {}
            if not isinstance(sname, str) or not sname.isidentifier():
                raise self.fail(where, "a state name must be an identifier")
            if not isinstance(spec, dict):
                raise self.fail(where, "must be a mapping (label, final, sla)")
            self._no_unknown(spec, _STATE_KEYS, where)
            sla = None
            if spec.get("sla") is not None:
                try:
                    sla = parse_duration(spec["sla"])
                except ValueError as exc:
                    raise self.fail(f"{where}.sla", str(exc)) from exc
            label = spec.get("label") or {"en": sname}
            if isinstance(label, str):
                label = {"en": label, "zh-CN": label}
            states[sname] = StateDef(
                sname, label, bool(spec.get("final", False)), sla, self._requires(spec, where)
            )
        if not any(s.final for s in states.values()):
            raise self.fail("states", "needs at least one state with final: true")
        return states

    def _requires(self, spec: dict[str, Any], where: str) -> tuple[str, ...]:
        raw = spec.get("requires") or []
        if not isinstance(raw, list) or not all(
            isinstance(key, str) and key.isidentifier() for key in raw
        ):
            raise self.fail(
                f"{where}.requires", "must list data keys (identifiers), e.g. [collector]"
            )
        return tuple(raw)

    def _named(
        self, raw: Any, where: str, table: dict[str, Any], kind: str
    ) -> tuple[NamedCall, ...]:
        calls = []
        for i, item in enumerate(raw or []):
            if isinstance(item, str):
                call = NamedCall(item)
            elif isinstance(item, dict) and len(item) == 1:
                ((cname, args),) = item.items()
                if args is not None and not isinstance(args, dict):
                    raise self.fail(
                        f"{where}[{i}]", f"arguments of {kind} {cname!r} must be a mapping"
                    )
                call = NamedCall(cname, dict(args or {}))
            else:
                raise self.fail(f"{where}[{i}]", f"must be a {kind} name or {{name: {{args}}}}")
            if call.name not in table:
                known = ", ".join(sorted(table)) or "none registered"
                raise self.fail(f"{where}[{i}]", f"unknown {kind} {call.name!r}; known: {known}")
            calls.append(call)
        return tuple(calls)

    def _transition(self, index: int, raw: Any, states: dict[str, StateDef]) -> TransitionDef:
        where = f"transitions[{index}]"
        if not isinstance(raw, dict):
            raise self.fail(where, "must be a mapping with trigger, source, dest, roles")
        self._no_unknown(raw, _TRANSITION_KEYS, where)
        for key in ("trigger", "source", "dest", "roles"):
            if key not in raw:
                raise self.fail(f"{where}.{key}", "is required")
        trigger = raw["trigger"]
        if not isinstance(trigger, str) or not trigger.isidentifier():
            raise self.fail(f"{where}.trigger", "must be an identifier such as approve")
        where = f"transitions[{index}] ({trigger})"
        sources = raw["source"] if isinstance(raw["source"], list) else [raw["source"]]
        for s in sources:
            if s not in states:
                raise self.fail(f"{where}.source", f"unknown state {s!r}")
            if states[s].final:
                raise self.fail(f"{where}.source", f"{s!r} is final; a final state has no way out")
        if raw["dest"] not in states:
            raise self.fail(f"{where}.dest", f"unknown state {raw['dest']!r}")
        outcomes = raw.get("outcomes") or []
        if not isinstance(outcomes, list):
            raise self.fail(
                f"{where}.outcomes", "must list states an effect may send the instance to"
            )
        for o in outcomes:
            if o not in states:
                raise self.fail(f"{where}.outcomes", f"unknown state {o!r}")
        roles = raw["roles"] if isinstance(raw["roles"], list) else [raw["roles"]]
        if not roles:
            raise self.fail(f"{where}.roles", "must list at least one role")
        for r in roles:
            if r not in self.policy.roles:
                raise self.fail(
                    f"{where}.roles",
                    f"unknown role {r!r}; known: {', '.join(sorted(self.policy.roles))}",
                )
            if r in self.policy.non_acting:
                raise self.fail(f"{where}.roles", f"{r!r} may never act on a workflow")
        condition = None
        if raw.get("condition") is not None:
            try:
                condition = Expression(str(raw["condition"]))
            except ValueError as exc:
                raise self.fail(f"{where}.condition", f"does not parse: {exc}") from exc
        payload = raw.get("payload") or {}
        schema = self._payload_schema(payload, f"{where}.payload")
        tasks = tuple(
            c.name
            for c in self._named(raw.get("tasks"), f"{where}.tasks", self.registry.tasks, "task")
        )
        label = raw.get("label") or {"en": trigger}
        if isinstance(label, str):
            label = {"en": label, "zh-CN": label}
        return TransitionDef(
            index=index,
            trigger=trigger,
            sources=tuple(sources),
            dest=raw["dest"],
            roles=frozenset(roles),
            guards=self._named(raw.get("guards"), f"{where}.guards", self.registry.guards, "guard"),
            condition=condition,
            payload=payload,
            payload_schema=schema,
            effects=self._named(
                raw.get("effects"), f"{where}.effects", self.registry.effects, "effect"
            ),
            tasks=tasks,
            label=label,
            comment_required=bool(raw.get("comment_required", False)),
            outcomes=tuple(outcomes),
        )

    def _payload_schema(self, payload: Any, where: str) -> Schema:
        if not isinstance(payload, dict):
            raise self.fail(where, "must map field names to {type, required, ...}")
        declared: dict[str, Any] = {}
        for fname, spec in payload.items():
            fwhere = f"{where}.{fname}"
            if fname in ("comment", "expected_version"):
                raise self.fail(fwhere, "is reserved; every action already accepts it")
            spec = {"type": spec} if isinstance(spec, str) else (spec or {})
            if not isinstance(spec, dict):
                raise self.fail(fwhere, "must be a type name or a mapping")
            self._no_unknown(spec, _PAYLOAD_KEYS, fwhere)
            ftype = spec.get("type", "string")
            if ftype not in _PAYLOAD_TYPES:
                raise self.fail(
                    f"{fwhere}.type", f"unknown type {ftype!r}; use one of {sorted(_PAYLOAD_TYPES)}"
                )
            if ftype == "array" and spec.get("items") and spec["items"] not in _PAYLOAD_TYPES:
                raise self.fail(f"{fwhere}.items", f"unknown item type {spec['items']!r}")
            field_obj = _PAYLOAD_TYPES[ftype](spec)
            field_obj.required = bool(spec.get("required", False))
            if not field_obj.required:
                field_obj.allow_none = True
            declared[fname] = field_obj
            payload[fname] = spec
        return CodedSchema.from_dict(declared, name=f"Payload_{abs(hash(where))}")()

    def _timer(
        self, index: int, raw: Any, states: dict[str, StateDef], transitions: list[TransitionDef]
    ) -> TimerDef:
        where = f"timers[{index}]"
        if not isinstance(raw, dict):
            raise self.fail(where, "must be a mapping with state, after, trigger")
        self._no_unknown(raw, _TIMER_KEYS, where)
        for key in ("state", "after", "trigger"):
            if key not in raw:
                raise self.fail(f"{where}.{key}", "is required")
        if raw["state"] not in states:
            raise self.fail(f"{where}.state", f"timer on missing state {raw['state']!r}")
        if states[raw["state"]].final:
            raise self.fail(f"{where}.state", "a final state cannot have timers")
        if not any(t.trigger == raw["trigger"] and raw["state"] in t.sources for t in transitions):
            raise self.fail(
                f"{where}.trigger",
                f"no transition {raw['trigger']!r} leaves state {raw['state']!r}",
            )
        try:
            after = parse_duration(raw["after"])
        except ValueError as exc:
            raise self.fail(f"{where}.after", str(exc)) from exc
        return TimerDef(raw["state"], after, raw["trigger"], bool(raw.get("repeat", False)))

    def _check_ambiguity(self, by_trigger: dict[str, list[TransitionDef]]) -> None:
        for trigger, ts in by_trigger.items():
            for i, a in enumerate(ts):
                for b in ts[i + 1 :]:
                    shared = set(a.sources) & set(b.sources)
                    if shared and (a.condition is None or b.condition is None):
                        raise self.fail(
                            f"transitions[{b.index}] ({trigger})",
                            f"is ambiguous with transitions[{a.index}] from {sorted(shared)[0]!r}: "
                            "give both a condition that tells them apart",
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
                raise self.fail(
                    f"states.{sname}", f"is unreachable from the initial state {initial!r}"
                )
            if not state.final and not outgoing[sname]:
                raise self.fail(
                    f"states.{sname}",
                    "is not final and has no transition out; add one or mark it final: true",
                )


def _as_list(value: Any, compiler: _Compiler, key: str) -> list[Any]:
    if not isinstance(value, list):
        raise compiler.fail(key, "must be a list")
    return value


def load_folder(folder: Path, registry: Registry, policy: RolePolicy) -> list[Definition]:
    """Parse every ``*.yaml`` workflow file directly in ``folder`` (rules live in ``rules/``).

    Raises:
        DefinitionError: the first invalid file, or two files with the same name and version.
    """
    found: dict[tuple[str, int], Definition] = {}
    for path in sorted(Path(folder).glob("*.yaml")):
        definition = parse_definition(path.read_bytes(), path.name, registry, policy)
        key = (definition.name, definition.version)
        if key in found:
            raise DefinitionError(
                path.name,
                "version",
                f"{definition.name} v{definition.version} is also defined in {found[key].file}",
            )
        found[key] = definition
    return list(found.values())
