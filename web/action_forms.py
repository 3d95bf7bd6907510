"""Forms for workflow actions, generated from the payload fields each transition declares.

Values arrive as text; they are converted to the declared types here and then
checked by the engine's own payload schema (one set of rules, in ``fire``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict

from workflow.engine.definitions import Definition
from workflow.records.identity import Actor
from workflow.risk.due_diligence.review import checklist_for

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
    # "checklist": one finding, grade and evidence per item of the definition's checklist;
    # "attachments": evidence files (uploaded or already on the case), sent as SHA-256s.
    widget: str | None = None
    items: list[tuple[str, str]] = field(default_factory=list)
    grades: list[str] = field(default_factory=list)
    # A value the page fills in from the case and the reader does not type (read-only):
    # the content hash a manager approves is the one of the change shown on the page.
    value: str | None = None


@dataclass
class ActionForm:
    trigger: str
    label: str
    fields: list[FieldSpec]
    comment_required: bool
    danger: bool


_DANGER = ("reject", "withdraw", "cancel", "terminate", "suspend", "blacklist", "block")
ATTACHMENT_FIELDS = ("attachments",)
# Payload fields filled in, read-only, from the case's data key of the same name: approving
# a configuration change sends the hash of the draft the page showed, so a draft changed
# after the page was loaded is still refused (config.hash_mismatch, 409).
PREFILLED = ("content_hash",)
DEFAULT_GRADES = ["low", "medium", "high"]


def _field(
    settings: Mapping[str, Any], name: str, spec: dict[str, Any], data: Mapping[str, Any] | None
) -> FieldSpec:
    field_spec = FieldSpec(
        name=name,
        type=spec.get("type", "string"),
        required=bool(spec.get("required")),
        label=label(spec.get("label"), name),
        enum=list(spec.get("enum") or []),
        min=spec.get("min"),
        max=spec.get("max"),
        max_length=spec.get("max_length"),
    )
    checklist = checklist_for(settings, data)
    if name == "checklist" and field_spec.type == "object" and checklist:
        field_spec.widget = "checklist"
        field_spec.items = [(key, label(text, key)) for key, text in checklist.items()]
        field_spec.grades = list(settings.get("risk_grades") or DEFAULT_GRADES)
    elif name in ATTACHMENT_FIELDS and field_spec.type == "array":
        field_spec.widget = "attachments"
    elif name in PREFILLED and data and data.get(name):
        field_spec.value = str(data[name])
    return field_spec


def action_forms(
    definition: Definition,
    state: str,
    triggers: list[str],
    actor: Actor,
    settings: Mapping[str, Any] | None = None,
    data: Mapping[str, Any] | None = None,
) -> list[ActionForm]:
    """One form per trigger, from the transitions open to ``actor``'s roles; ``settings``:
    the definition's settings as governed configuration has them (the active checklist);
    ``data``: the case's, which chooses a due-diligence checklist by client type."""
    forms = []
    for trigger in triggers:
        candidates = [t for t in definition.candidates(trigger, state) if actor.has_any(t.roles)]
        if not candidates:
            continue
        specs: dict[str, FieldSpec] = {}
        for t in candidates:
            for name, spec in t.payload.items():
                if name not in specs:
                    specs[name] = _field(
                        definition.settings if settings is None else settings, name, spec, data
                    )
        first = candidates[0]
        forms.append(
            ActionForm(
                trigger=trigger,
                label=label(first.label, trigger),
                fields=list(specs.values()),
                comment_required=any(t.comment_required for t in candidates),
                danger=any(word in trigger for word in _DANGER),
            )
        )
    return forms


def parse_payload(
    form: MultiDict[str, str], fields: list[FieldSpec]
) -> tuple[dict[str, Any], dict[str, list[str]]]:
    """Typed payload from the submitted form; conversion errors per field."""
    payload: dict[str, Any] = {}
    errors: dict[str, list[str]] = {}
    for spec in fields:
        key = f"p_{spec.name}"
        raw = form.get(key, "")
        if spec.widget == "checklist":
            payload[spec.name] = parse_checklist(form, spec)
            continue
        if spec.widget == "attachments":
            payload[spec.name] = list(dict.fromkeys(v for v in form.getlist(key) if v))
            continue
        if spec.type == "boolean":
            payload[spec.name] = raw in ("on", "true", "1", "yes")
            continue
        if spec.type == "array":
            items = [
                line.strip()
                for line in form.getlist(key)
                for line in line.splitlines()
                if line.strip()
            ]
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
            errors[spec.name] = [_("Not a valid value.")]
    return payload, errors


def checklist_input(item: str, part: str) -> str:
    """Name of a checklist item's input: ``finding``, ``risk``, ``evidence`` or ``files``."""
    return f"cl-{item}-{part}"


def parse_checklist(form: MultiDict[str, str], spec: FieldSpec) -> dict[str, Any]:
    """Every item of the checklist as the engine expects it; the engine's
    ``validate_checklist`` judges it (the same rules as the API)."""
    return {
        key: {
            "finding": form.get(checklist_input(key, "finding"), ""),
            "risk": form.get(checklist_input(key, "risk"), ""),
            "evidence": list(
                dict.fromkeys(v for v in form.getlist(checklist_input(key, "evidence")) if v)
            ),
        }
        for key, _text in spec.items
    }


def file_inputs(fields: list[FieldSpec]) -> list[tuple[str, str, str | None]]:
    """The file inputs of a form as (input name, payload field, checklist item)."""
    inputs: list[tuple[str, str, str | None]] = []
    for spec in fields:
        if spec.widget == "attachments":
            inputs.append((f"f_{spec.name}", spec.name, None))
        elif spec.widget == "checklist":
            inputs.extend((checklist_input(key, "files"), spec.name, key) for key, _ in spec.items)
    return inputs


def add_evidence(
    payload: dict[str, Any], field_name: str, item: str | None, hashes: list[str]
) -> None:
    """Cite freshly uploaded files in the payload, as an API client cites the hashes it got."""
    if item is None:
        target = payload.setdefault(field_name, [])
    else:
        target = payload[field_name][item]["evidence"]
    target.extend(h for h in hashes if h not in target)
