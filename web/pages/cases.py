"""The case page of any workflow instance: diagram, actions, audit timeline."""

from __future__ import annotations

import uuid
from typing import Any

from flask import flash, g, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from flask_babel import ngettext
from sqlalchemy import select
from werkzeug.exceptions import RequestEntityTooLarge
from werkzeug.wrappers import Response

from workflow.engine import firing as engine
from workflow.engine import queries, visibility
from workflow.engine.definitions import Definition
from workflow.engine.machine import mermaid
from workflow.engine.presentation import present_instance
from workflow.errors import (
    ConditionNotMet,
    Conflict,
    Forbidden,
    IllegalState,
    NotFound,
    ValidationFailed,
    VersionConflict,
)
from workflow.platform.transaction import transact
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, User, WorkflowInstance
from workflow.risk.due_diligence import evidence
from workflow.risk.governance.overlay import governed_settings

from ..action_forms import action_forms, add_evidence, file_inputs, parse_payload
from ..backtest_view import backtest_view
from ..config_change_view import change_view
from ..console import blp, current_actor
from ..database import db, runtime_of
from ..errors import error_page
from ..i18n import content_lang, label
from ..refusals import Refusal, field_messages, refusal
from ..texts import comment_text
from ..uploads import UploadRefused, store_uploads, too_large_message

TIMELINE_LIMIT = 500


def load_case(instance_id: int) -> WorkflowInstance:
    instance = db.session.get(WorkflowInstance, instance_id)
    return visibility.require_view(
        db.session, instance, current_actor(), runtime_of().catalog, instance_id
    )


def timeline(instance_id: int) -> list[AuditRecord]:
    return queries.timeline(db.session, instance_id, limit=TIMELINE_LIMIT)


def case_files(instance: WorkflowInstance, actor: Actor) -> list[evidence.Evidence]:
    """The case's evidence this actor may see: all of it for readers, else their own uploads."""
    if instance.definition not in evidence.POLICIES:
        return []
    return evidence.list_for(db.session, instance.id, actor, limit=500, own_only=True)


def record_files(
    record: AuditRecord, files_by_sha: dict[str, evidence.Evidence], actor: Actor
) -> list[dict[str, Any]]:
    """Files an audit record names (uploads, attachments, checklist evidence), each with a
    download link when the file is on the case; hidden like the record's payload is."""
    payload = record.payload or {}
    if not payload or not (
        visibility.sees_everything(actor, runtime_of().catalog) or record.actor == actor.username
    ):
        return []
    if record.kind == evidence.EVENT:
        named = [str(payload.get("sha256") or payload.get("filename") or "")]
    else:
        named = [str(a) for a in payload.get("attachments") or [] if a]
        checklist = payload.get("checklist")
        if isinstance(checklist, dict):
            named += [
                str(e)
                for item in checklist.values()
                if isinstance(item, dict)
                for e in item.get("evidence") or []
                if isinstance(item.get("evidence"), list)
            ]
    shown = []
    for ref in dict.fromkeys(named):
        row = files_by_sha.get(ref)
        shown.append(
            {
                "name": row.filename if row else ref,
                "sha256": row.sha256 if row else None,
                "url": url_for(
                    "console.download_evidence", instance_id=record.instance_id, sha256=row.sha256
                )
                if row
                else None,
            }
        )
    return shown


def render_case(
    instance: WorkflowInstance,
    *,
    status: int = 200,
    failed: str | None = None,
    errors: dict[str, Any] | None = None,
    message: str | Refusal | None = None,
    conflict: bool = False,
    values: Any = None,
) -> tuple[str, int]:
    """The case page; after a refused action, ``values`` refills the form that failed."""
    actor = current_actor()
    catalog = runtime_of().catalog
    definition = catalog.get(instance.definition, instance.definition_version)
    backtest = backtest_view(db.session, instance)  # a configuration change's, read afresh
    view = present_instance(db.session, instance, actor)
    children = list(
        db.session.execute(
            select(WorkflowInstance)
            .where(WorkflowInstance.parent_id == instance.id)
            .order_by(WorkflowInstance.id)
        ).scalars()
    )
    files = case_files(instance, actor)
    files_by = {f.sha256: f for f in files}
    records = timeline(instance.id)
    # A system comment copied into the case's data (a parent told of its due diligence) is
    # worded like its audit record.
    g.worded_comments = {r.comment: comment_text(r) for r in records if r.comment}
    return render_template(
        "case.html",
        owners=owners_with_roles(list(instance.assignees or [])),
        assigned=actor.username in (instance.assignees or []),
        case=view,
        instance=instance,
        definition=definition,
        diagram=mermaid(definition, current=instance.state, lang=content_lang()),
        forms=action_forms(
            definition,
            instance.state,
            view["available_actions"],
            actor,
            form_settings(definition),
            instance.data,
        ),
        records=records,
        failed=failed,
        errors=errors or {},
        message=message,
        conflict=conflict,
        idempotency_key=uuid.uuid4().hex,
        children=children,
        files=files,
        can_upload=evidence.accepts_uploads(instance, actor),
        record_files=lambda record: record_files(record, files_by, actor),
        accept=",".join(sorted(evidence.ALLOWED_TYPES)),
        max_file=evidence.max_bytes(runtime_of().settings),
        values=values if values is not None else {},
        backtest=backtest,
        change=change_view(instance, view["data"], actor),
    ), status


def owners_with_roles(usernames: list[str]) -> list[tuple[str, list[str]]]:
    """The case's assignees (an alert's owners, legal among them when routed) with roles."""
    if not usernames:
        return []
    roles = dict(
        db.session.execute(
            select(User.username, User.roles).where(User.username.in_(usernames))
        ).all()
    )
    return [(name, list(roles.get(name) or [])) for name in sorted(usernames)]


@blp.get("/cases/<int:instance_id>")
def case(instance_id: int) -> tuple[str, int]:
    return render_case(load_case(instance_id))


def form_settings(definition: Definition) -> dict[str, Any]:
    """A due-diligence case's checklist is the active ``dd_checklist`` version."""
    if definition.name != "due_diligence":
        return dict(definition.settings)
    return governed_settings(db.session, "dd_checklist", definition.settings)


@blp.post("/cases/<int:instance_id>/actions/<trigger>")
def act(instance_id: int, trigger: str) -> Response | tuple[str, int]:
    actor = current_actor()
    instance = load_case(instance_id)
    definition = runtime_of().catalog.get(instance.definition, instance.definition_version)
    settings = form_settings(definition)
    forms = {
        f.trigger: f
        for f in action_forms(definition, instance.state, [trigger], actor, settings, instance.data)
    }
    fields = forms[trigger].fields if trigger in forms else []
    payload, errors = parse_payload(request.form, fields)
    comment = request.form.get("comment", "").strip() or None
    try:
        expected = int(request.form.get("expected_version", ""))
    except ValueError:
        expected = None
    if errors:
        return render_case(
            instance,
            status=422,
            failed=trigger,
            errors=errors,
            message=_("Some input is invalid."),
            values=request.form,
        )
    # Files first, each through the evidence service as an API client would upload them;
    # the action then cites their hashes. A refused action keeps the files on the case.
    values = request.form.copy()
    try:
        for name, field_name, item in file_inputs(fields):
            hashes = store_uploads(instance_id, actor, request.files.getlist(name))
            add_evidence(payload, field_name, item, hashes)
            selected = name.replace("-files", "-evidence") if item else f"p_{field_name}"
            for sha in hashes:
                values.add(selected, sha)
    except UploadRefused as exc:
        db.session.expire_all()
        return render_case(
            load_case(instance_id),
            status=exc.status,
            failed=trigger,
            message=exc.message,
            values=values,
        )
    except (Forbidden, IllegalState, Conflict) as exc:
        db.session.expire_all()
        return render_case(
            load_case(instance_id),
            status=exc.status,
            failed=trigger,
            message=refusal(exc, definition),
            values=values,
        )
    key = (request.form.get("idempotency_key") or "")[:128] or None
    try:
        result = transact(
            db.session,
            lambda: engine.fire(
                db.session,
                instance_id,
                trigger,
                actor,
                payload,
                expected_version=expected,
                idempotency_key=key,
                comment=comment,
                request_id=g.get("request_id"),
            ),
        )
    except VersionConflict:
        db.session.expire_all()
        return render_case(load_case(instance_id), status=409, conflict=True)
    except (ValidationFailed, ConditionNotMet) as exc:
        db.session.expire_all()
        return render_case(
            load_case(instance_id),
            status=422,
            failed=trigger,
            errors=field_messages(exc.extra.get("errors") or {}),
            message=refusal(exc, definition),
            values=values,
        )
    except (Forbidden, IllegalState, Conflict) as exc:  # Conflict: e.g. config.hash_mismatch
        db.session.expire_all()
        return render_case(
            load_case(instance_id),
            status=exc.status,
            failed=trigger,
            message=refusal(exc, definition),
            values=values,
        )
    flash(
        _(
            "Done: %(from)s → %(to)s",
            **{
                "from": _state(definition, result.from_state),
                "to": _state(definition, result.to_state),
            },
        ),
        "ok",
    )
    return redirect(url_for("console.case", instance_id=instance_id))


@blp.post("/cases/<int:instance_id>/evidence")
def upload_evidence(instance_id: int) -> Response | tuple[str, int]:
    """Add evidence files to the case without acting on it (e.g. while collecting)."""
    actor = current_actor()
    instance = load_case(instance_id)
    definition = runtime_of().catalog.get(instance.definition, instance.definition_version)
    try:
        hashes = store_uploads(instance_id, actor, request.files.getlist("files"))
    except UploadRefused as exc:
        db.session.expire_all()
        return render_case(load_case(instance_id), status=exc.status, message=exc.message)
    except (Forbidden, IllegalState, Conflict) as exc:
        db.session.expire_all()
        return render_case(
            load_case(instance_id), status=exc.status, message=refusal(exc, definition)
        )
    if not hashes:
        return render_case(load_case(instance_id), status=422, message=_("Choose a file first."))
    flash(ngettext("%(num)d file uploaded", "%(num)d files uploaded", len(hashes)), "ok")
    return redirect(url_for("console.case", instance_id=instance_id) + "#evidence")


@blp.get("/cases/<int:instance_id>/evidence/<sha256>")
def download_evidence(instance_id: int, sha256: str) -> Response:
    """The file, checked against its hash, for those the evidence service lets read it."""
    row, path = evidence.open_for_download(db.session, instance_id, sha256, current_actor())
    name = evidence.download_name(row.filename, row.content_type)  # the checked type's extension
    response = send_file(
        path,
        mimetype=row.content_type,
        as_attachment=True,
        download_name=name,
        etag=row.sha256,
        conditional=True,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response


@blp.errorhandler(RequestEntityTooLarge)
def upload_too_large(exc: RequestEntityTooLarge) -> Response | tuple[str, int]:
    """Refused before the form was read: show the case again with the limit."""
    instance_id = (request.view_args or {}).get("instance_id")
    if instance_id is not None and getattr(g, "console_actor", None) is not None:
        try:
            return render_case(load_case(int(instance_id)), status=413, message=too_large_message())
        except NotFound:
            pass
    return error_page(413, too_large_message())


def _state(definition: Any, name: str) -> str:
    return label(definition.states[name].label, name)
