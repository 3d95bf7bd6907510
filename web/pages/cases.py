"""The case page of any workflow instance: diagram, actions, audit timeline."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from api.extensions import db
from api.presenters import present_instance
from workflow import engine, runtime, visibility
from workflow.errors import (
    ConditionNotMet,
    Forbidden,
    IllegalState,
    ValidationFailed,
    VersionConflict,
)
from workflow.machine import mermaid
from workflow.models import AuditRecord, WorkflowInstance
from workflow.transaction import transact

from ..action_forms import action_forms, parse_payload
from ..console import blp, current_actor
from ..i18n import content_lang, label

TIMELINE_LIMIT = 500


def load_case(instance_id: int) -> WorkflowInstance:
    instance = db.session.get(WorkflowInstance, instance_id)
    return visibility.require_view(db.session, instance, current_actor(),
                                   runtime.current().catalog.registry, instance_id)


def timeline(instance_id: int) -> list[AuditRecord]:
    return list(db.session.execute(
        select(AuditRecord).where(AuditRecord.stream == f"workflow:{instance_id}")
        .order_by(AuditRecord.seq).limit(TIMELINE_LIMIT)).scalars())


def render_case(instance: WorkflowInstance, *, status: int = 200, failed: str | None = None,
                errors: dict[str, Any] | None = None, message: str | None = None,
                conflict: bool = False) -> tuple[str, int]:
    actor = current_actor()
    catalog = runtime.current().catalog
    definition = catalog.get(instance.definition, instance.definition_version)
    view = present_instance(db.session, instance, actor)
    children = list(db.session.execute(
        select(WorkflowInstance).where(WorkflowInstance.parent_id == instance.id)
        .order_by(WorkflowInstance.id)).scalars())
    return render_template(
        "case.html", case=view, instance=instance, definition=definition,
        diagram=mermaid(definition, current=instance.state, lang=content_lang()),
        forms=action_forms(definition, instance.state, view["available_actions"], actor),
        records=timeline(instance.id), failed=failed, errors=errors or {}, message=message,
        conflict=conflict, idempotency_key=uuid.uuid4().hex, children=children,
    ), status


@blp.get("/cases/<int:instance_id>")
def case(instance_id: int) -> tuple[str, int]:
    return render_case(load_case(instance_id))


@blp.post("/cases/<int:instance_id>/actions/<trigger>")
def act(instance_id: int, trigger: str) -> Response | tuple[str, int]:
    actor = current_actor()
    instance = load_case(instance_id)
    definition = runtime.current().catalog.get(instance.definition, instance.definition_version)
    forms = {f.trigger: f for f in action_forms(definition, instance.state, [trigger], actor)}
    fields = forms[trigger].fields if trigger in forms else []
    payload, errors = parse_payload(request.form, fields)
    comment = request.form.get("comment", "").strip() or None
    try:
        expected = int(request.form.get("expected_version", ""))
    except ValueError:
        expected = None
    if errors:
        return render_case(instance, status=422, failed=trigger, errors=errors,
                           message=_("Some input is invalid."))
    key = (request.form.get("idempotency_key") or "")[:128] or None
    try:
        result = transact(db.session, lambda: engine.fire(
            db.session, instance_id, trigger, actor, payload, expected_version=expected,
            idempotency_key=key, comment=comment, request_id=g.get("request_id")))
    except VersionConflict:
        db.session.expire_all()
        return render_case(load_case(instance_id), status=409, conflict=True)
    except (ValidationFailed, ConditionNotMet) as exc:
        db.session.expire_all()
        return render_case(load_case(instance_id), status=422, failed=trigger,
                           errors=exc.extra.get("errors") or {}, message=exc.detail)
    except (Forbidden, IllegalState) as exc:
        db.session.expire_all()
        return render_case(load_case(instance_id), status=exc.status, failed=trigger,
                           message=exc.detail)
    flash(_("Done: %(from)s → %(to)s", **{"from": _state(definition, result.from_state),
                                           "to": _state(definition, result.to_state)}), "ok")
    return redirect(url_for("console.case", instance_id=instance_id))


def _state(definition: Any, name: str) -> str:
    return label(definition.states[name].label, name)
