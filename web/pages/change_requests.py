"""Filing a change request for a client's sensitive fields (dual approval follows on the case)."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from workflow.errors import Duplicate, ValidationFailed
from workflow.platform.transaction import transact
from workflow.risk import sensitive_edit
from workflow.risk.clients import queries as client_queries
from workflow.risk.clients.model import RATINGS, RISK_LEVELS, SENSITIVE_FIELDS

from ..console import blp, current_actor
from ..database import db
from ..refusals import Refusal, field_messages, refusal


def _changes(form: Any) -> dict[str, Any]:
    changes: dict[str, Any] = {}
    for name in SENSITIVE_FIELDS:
        value = (form.get(f"change_{name}") or "").strip()
        if not value:
            continue
        if name == "blacklisted":
            changes[name] = value == "true"
        elif name == "credit_limit":
            changes[name] = value.replace(",", "")
        else:
            changes[name] = value
    return changes


@blp.route("/clients/<int:client_id>/changes/new", methods=["GET", "POST"])
def request_change(client_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    client = client_queries.read_client(db.session, client_id, actor)
    errors: dict[str, Any] = {}
    message: Refusal | None = None
    status = 200
    if request.method == "POST":
        changes = _changes(request.form)
        reason = request.form.get("reason", "")
        try:
            case = transact(
                db.session,
                lambda: sensitive_edit.request_sensitive_edit(
                    db.session, client_id, changes, reason, actor, request_id=g.get("request_id")
                ),
            )
        except (ValidationFailed, Duplicate) as exc:
            errors = field_messages(exc.extra.get("errors") or {})
            message, status = refusal(exc), exc.status
        else:
            flash(_("Change request #%(id)s filed; it needs two approvers.", id=case.id), "ok")
            return redirect(url_for("console.case", instance_id=case.id))
    return render_template(
        "change_new.html",
        client=client,
        errors=errors,
        message=message,
        values=request.form,
        ratings=RATINGS,
        risk_levels=RISK_LEVELS,
    ), status
