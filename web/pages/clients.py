"""Clients: the archive list, one client (masked by role) with its risk report, cases
and history, and the new-client form with "submit for admission"."""

from __future__ import annotations

import json
from typing import Any

from flask import abort, flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from workflow.errors import Conflict, Forbidden, ValidationFailed
from workflow.platform.transaction import transact
from workflow.risk import erasure, onboarding
from workflow.risk.clients import contracts as contract_files
from workflow.risk.clients import queries as client_queries
from workflow.risk.clients import service as client_service
from workflow.risk.clients.masking import can_see_sensitive
from workflow.risk.clients.model import (
    CLIENT_TYPES,
    CONSENT_BASES,
    OWNERSHIP_TYPES,
    RATINGS,
    RISK_LEVELS,
    STATUSES,
)
from workflow.risk.events import portrait
from workflow.risk.screening.rules import PAYMENT_HISTORIES

from .. import risk_report
from ..client_form import client_data, field_errors
from ..console import blp, current_actor
from ..database import db, runtime_of
from ..i18n import when
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
    views = client_service.client_views(db.session, rows, actor)
    db.session.commit()  # the read is logged
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
        client_types=CLIENT_TYPES,
    )


TABS = ("overview", "background", "legal", "events", "alerts", "cases", "ratings", "contracts")
RATING_RANKS = {"S": 5, "A": 4, "B": 3, "C": 2, "D": 1}


def _rating_chart(ratings: list[dict[str, Any]], scores: bool) -> str | None:
    """The rating history as a line chart: the score for those who see it, otherwise the
    rating's rank (D=1 … S=5)."""
    if not ratings:
        return None
    values = [r["risk_score"] if scores else RATING_RANKS.get(r["rating"]) for r in ratings]
    return json.dumps(
        {
            "type": "line",
            "labels": [when(r["rated_at"], "short") for r in ratings],
            "datasets": [
                {
                    "label": _("Risk score") if scores else _("Rating (D=1 … S=5)"),
                    "data": values,
                    "borderColor": "#1d4ed8",
                    "backgroundColor": "#1d4ed8",
                }
            ],
        }
    )


def _may_edit(record: Any) -> bool:
    try:
        client_service.require_editor(record, current_actor(), "editing a client")
    except Forbidden:
        return False
    return True


@blp.get("/clients/<int:client_id>")
def client(client_id: int) -> str:
    actor = current_actor()
    tab = request.args.get("tab", "overview")
    if tab not in TABS:
        abort(404)
    record = client_queries.read_client(db.session, client_id, actor)
    data = portrait.portrait(db.session, record, actor)
    db.session.commit()  # the read is logged
    sensitive = can_see_sensitive(actor.roles)
    return render_template(
        "client.html",
        client=data["client"],
        portrait=data,
        tab=tab,
        tabs=TABS,
        catalog=runtime_of().catalog,
        rating_chart=_rating_chart(data["ratings"], sensitive) if tab == "ratings" else None,
        # The audit diffs hold figures masking hides from sales (e.g. registered capital).
        history=client_service.client_history(db.session, client_id)
        if sensitive and tab == "overview"
        else [],
        can_report=sensitive,
        contract_folders=contract_files.folders(db.session, client_id, actor)
        if tab == "contracts"
        else {},
        can_edit_contracts=_may_edit(record),
        can_add_to_contracts=actor.has_any(contract_files.WRITER_ROLES),
        can_submit=record.status not in onboarding.NOT_ADMISSIBLE
        and onboarding.running_admission(db.session, client_id) is None
        and actor.has_any(onboarding.STARTER_ROLES),
    )


@blp.get("/clients/<int:client_id>/report")
def client_report(client_id: int) -> Response:
    """The risk report to download (PDF) or print (HTML), in the console's language."""
    actor = current_actor()
    kind = request.args.get("format", "pdf")
    if kind not in risk_report.FORMATS:
        abort(404)
    record = portrait.authorize_report(db.session, client_id, actor)
    data = portrait.portrait(db.session, record, actor, view="report")
    db.session.commit()
    return risk_report.response(data, kind)


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
        client_types=CLIENT_TYPES,
        consent_bases=CONSENT_BASES,
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
    except Conflict as exc:  # a duplicate credit code or identity number
        said = refusal(exc)
        field = "id_number" if exc.code == "client.duplicate_id_number" else "credit_code"
        return _form_page(request.form.to_dict(), {field: said.text}, said, 409)
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


@blp.post("/clients/<int:client_id>/erasure")
def request_erasure(client_id: int) -> Response:
    """Legal or a manager asks for the erasure of the client's personal data (PIPL)."""
    actor = current_actor()
    erasure.erasable_client(db.session, client_id, actor)
    case = transact(
        db.session,
        lambda: erasure.request_erasure(
            db.session,
            client_id,
            request.form.get("reason") or "",
            actor,
            request_id=g.get("request_id"),
        ),
    )
    flash(_("Erasure requested (case #%(id)s); a manager decides it.", id=case.id), "ok")
    return redirect(url_for("console.case", instance_id=case.id))
