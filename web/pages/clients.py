"""Clients: the archive list, one client (masked by role) with its risk report, cases
and history, and the new-client form with "submit for admission"."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from sqlalchemy import select
from werkzeug.wrappers import Response

from workflow.errors import Conflict, ValidationFailed
from workflow.platform.transaction import transact
from workflow.records.models import WorkflowInstance
from workflow.risk import onboarding
from workflow.risk.clients import queries as client_queries
from workflow.risk.clients import service as client_service
from workflow.risk.clients.masking import can_see_sensitive
from workflow.risk.clients.model import OWNERSHIP_TYPES, RATINGS, RISK_LEVELS, STATUSES
from workflow.risk.screening.rules import PAYMENT_HISTORIES

from ..client_form import client_data, field_errors
from ..console import blp, current_actor
from ..database import db, runtime_of
from ..refusals import Refusal, field_messages, refusal

PAGE = 50


@blp.get("/clients")
def clients() -> str:
    actor = current_actor()
    filters = {k: (request.args.get(k) or None) for k in (*client_queries.FILTERS, "q")}
    before = request.args.get("before", type=int)
    rows, next_cursor = client_queries.list_clients(
        db.session, actor, filters, limit=PAGE, before_id=before
    )
    views = [client_service.client_view(db.session, c, actor) for c in rows]
    db.session.commit()  # unmasked reads are audited
    template = (
        "_client_rows.html" if request.headers.get("HX-Target") == "client-rows" else "clients.html"
    )
    return render_template(
        template,
        clients=views,
        filters=filters,
        next_cursor=next_cursor,
        filters_set={k: v for k, v in filters.items() if v},
        statuses=STATUSES,
        ratings=RATINGS,
        risk_levels=RISK_LEVELS,
    )


@blp.get("/clients/<int:client_id>")
def client(client_id: int) -> str:
    actor = current_actor()
    record = client_queries.read_client(db.session, client_id, actor)
    view = client_service.client_view(db.session, record, actor)
    db.session.commit()
    catalog = runtime_of().catalog
    cases = list(
        db.session.execute(
            select(WorkflowInstance)
            .where(
                WorkflowInstance.subject_type == "client", WorkflowInstance.subject_id == client_id
            )
            .order_by(WorkflowInstance.id.desc())
            .limit(100)
        ).scalars()
    )
    return render_template(
        "client.html",
        client=view,
        cases=cases,
        catalog=catalog,
        # The audit diffs hold figures masking hides from sales (e.g. registered capital).
        history=client_service.client_history(db.session, client_id)
        if can_see_sensitive(actor.roles)
        else [],
        can_submit=record.status not in onboarding.NOT_ADMISSIBLE
        and onboarding.running_admission(db.session, client_id) is None
        and actor.has_any(onboarding.STARTER_ROLES),
    )


def _form_page(
    values: dict[str, Any], errors: dict[str, str], message: Refusal | None, status: int = 200
) -> tuple[str, int]:
    return render_template(
        "client_new.html",
        values=values,
        errors=errors,
        message=message,
        ownership_types=OWNERSHIP_TYPES,
        payment_histories=PAYMENT_HISTORIES,
    ), status


@blp.get("/clients/new")
def new_client() -> tuple[str, int]:
    return _form_page({}, {}, None)


@blp.post("/clients/new")
def create_client() -> Response | tuple[str, int]:
    actor = current_actor()
    data = client_data(request.form)
    submit = request.form.get("submit_for_admission") == "1"

    def command() -> tuple[int, int | None]:
        created = client_service.create_client(db.session, data, actor)
        case = (
            onboarding.start_admission(
                db.session, created.id, actor, request_id=g.get("request_id")
            )
            if submit
            else None
        )
        return created.id, (case.id if case else None)

    try:
        client_id, case_id = transact(db.session, command)
    except ValidationFailed as exc:
        return _form_page(
            request.form.to_dict(),
            field_errors(field_messages(exc.extra.get("errors") or {})),
            refusal(exc),
            422,
        )
    except Conflict as exc:  # a duplicate credit code
        said = refusal(exc)
        return _form_page(request.form.to_dict(), {"credit_code": said.text}, said, 409)
    if case_id is not None:
        flash(_("Client created and submitted for admission (case #%(id)s).", id=case_id), "ok")
    else:
        flash(_("Client created."), "ok")
    return redirect(url_for("console.client", client_id=client_id))


@blp.post("/clients/<int:client_id>/admission")
def submit_admission(client_id: int) -> Response:
    actor = current_actor()
    client_queries.read_client(db.session, client_id, actor)
    case = transact(
        db.session,
        lambda: onboarding.start_admission(
            db.session,
            client_id,
            actor,
            comment=request.form.get("comment") or None,
            request_id=g.get("request_id"),
        ),
    )
    flash(_("Submitted for admission (case #%(id)s).", id=case.id), "ok")
    return redirect(url_for("console.case", instance_id=case.id))
