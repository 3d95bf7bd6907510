"""The alerts board: counts by level and stage, the alerts in columns by stage, and
raising an alert by hand (risk officers, managers)."""

from __future__ import annotations

from collections import Counter
from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from workflow.errors import ValidationFailed
from workflow.platform.hygiene import whole_number
from workflow.platform.transaction import transact
from workflow.risk.alerts import intake as alert_service
from workflow.risk.clients.model import Client

from ..console import blp, current_actor
from ..database import db, runtime_of
from ..refusals import field_messages, refusal

BOARD_LIMIT = 500  # the board shows the newest alerts; older ones are reached by filters


def _board(filters: dict[str, Any]) -> dict[str, Any]:
    actor = current_actor()
    rows, more = alert_service.list_alerts(
        db.session,
        actor,
        level=filters["level"],
        state=filters["state"],
        breached=True if filters["breached"] else None,
        limit=BOARD_LIMIT,
    )
    definition = runtime_of().catalog.get(alert_service.DEFINITION)
    counts = Counter((a.level, i.state) for a, i in rows)
    clients = (
        {
            c.id: c.name
            for c in db.session.query(Client.id, Client.name).filter(
                Client.id.in_({a.client_id for a, _ in rows})
            )
        }
        if rows
        else {}
    )
    columns = {state: [(a, i) for a, i in rows if i.state == state] for state in definition.states}
    return {
        "rows": rows,
        "more": more,
        "counts": counts,
        "columns": columns,
        "definition": definition,
        "levels": alert_service.LEVELS,
        "clients": clients,
        "owners": alert_service.owners_of(db.session, [a.id for a, _ in rows]),
    }


def _filters() -> dict[str, Any]:
    return {
        "level": request.args.get("level") or None,
        "state": request.args.get("state") or None,
        "breached": request.args.get("breached") == "1",
    }


@blp.get("/alerts")
def alerts() -> str:
    filters = _filters()
    # "Raise an alert" on a client's page opens the form here with the client filled in.
    chosen = request.args.get("client_id", "")
    values = {"client_id": chosen} if whole_number(chosen) is not None else {}
    return render_template(
        "alerts.html",
        filters=filters,
        categories=alert_service.CATEGORIES,
        can_raise=current_actor().has_any(alert_service.RAISERS),
        errors={},
        values=values,
        open_form=bool(values),
        **_board(filters),
    )


@blp.post("/alerts")
def raise_alert() -> Response | tuple[str, int]:
    actor = current_actor()
    form = request.form
    fields: dict[str, Any] = {
        k: (form.get(k) or "").strip() for k in ("level", "category", "title", "details")
    }
    client_id = (form.get("client_id") or "").strip()
    number = whole_number(client_id)
    fields["client_id"] = client_id if number is None else number
    try:
        raised = transact(
            db.session,
            lambda: alert_service.raise_alert(
                db.session, actor, fields, request_id=g.get("request_id")
            ),
        )
    except ValidationFailed as exc:
        filters = _filters()
        return render_template(
            "alerts.html",
            filters=filters,
            categories=alert_service.CATEGORIES,
            can_raise=True,
            errors=field_messages(exc.extra.get("errors") or {}),
            values=form,
            message=refusal(exc),
            **_board(filters),
        ), 422
    flash(_("Alert raised (case #%(id)s).", id=raised.instance.id), "ok")
    return redirect(url_for("console.case", instance_id=raised.instance.id))
