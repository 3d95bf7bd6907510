"""Forms for workflow actions, generated from the payload fields each transition declares.

Values arrive as text; they are converted to the declared types here and then
checked by the engine's own payload schema (one set of rules, in ``fire``).
"""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from typing import Any

from werkzeug.datastructures import MultiDict

from workflow.definitions import Definition
from workflow.identity import Actor

from .i18n import label


@dataclass
class FieldSpec:
    name: str
    type: str
    required: bool
    label: str
    enum: list[str] = field(default_factory=list)
    min: Any = None
    max: Any = None
    max_length: int | None = None


@dataclass
class ActionForm:
    trigger: str
    label: str
    fields: list[FieldSpec]
    comment_required: bool
    danger: bool


_DANGER = ("reject", "withdraw", "cancel", "terminate", "suspend", "blacklist", "block")


def action_forms(definition: Definition, state: str, triggers: list[str],
                 actor: Actor) -> list[ActionForm]:
    """One form per trigger, from the transitions open to ``actor``'s roles."""
    forms = []
    for trigger in triggers:
        candidates = [t for t in definition.candidates(trigger, state) if actor.has_any(t.roles)]
        if not candidates:
            continue
        specs: dict[str, FieldSpec] = {}
        for t in candidates:
            for name, spec in t.payload.items():
                specs.setdefault(name, FieldSpec(
                    name=name, type=spec.get("type", "string"), required=bool(spec.get("required")),
                    label=label(spec.get("label"), name), enum=list(spec.get("enum") or []),
                    min=spec.get("min"), max=spec.get("max"), max_length=spec.get("max_length")))
        first = candidates[0]
        forms.append(ActionForm(
            trigger=trigger, label=label(first.label, trigger), fields=list(specs.values()),
            comment_required=any(t.comment_required for t in candidates),
            danger=any(word in trigger for word in _DANGER)))
    return forms


def parse_payload(form: MultiDict[str, str], fields: list[FieldSpec]) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Typed payload from the submitted form; conversion errors per field."""
    payload: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for spec in fields:
        key = f"p_{spec.name}"
        raw = form.get(key, "")
        if spec.type == "boolean":
            payload[spec.name] = raw in ("on", "true", "1", "yes")
            continue
        if spec.type == "array":
            items = [line.strip() for line in form.getlist(key) for line in line.splitlines() if line.strip()]
            if items or spec.required:
                payload[spec.name] = items
            continue
        if raw.strip() == "":
            if spec.required:
                payload[spec.name] = "" if spec.type == "string" else None
            continue
        try:
            if spec.type == "integer":
                payload[spec.name] = int(raw.replace(",", "").strip())
            elif spec.type == "number":
                payload[spec.name] = float(raw.replace(",", "").strip())
            elif spec.type == "object":
                payload[spec.name] = json.loads(raw)
            else:
                payload[spec.name] = raw
        except ValueError:
            errors[spec.name] = ["Not a valid value."]
    return payload, errors
