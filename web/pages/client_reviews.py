"""Opening an ad-hoc due diligence from the client page: the same ``review.open_review`` as
``POST /api/v1/clients/{id}/due-diligence`` (risk officers and managers; one open review per
client — a second attempt is taken to the one already running)."""

from __future__ import annotations

from flask import flash, g, redirect, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from workflow.errors import Duplicate
from workflow.platform.transaction import transact
from workflow.risk.due_diligence import review

from ..console import blp, current_actor
from ..database import db
from ..refusals import refusal


@blp.post("/clients/<int:client_id>/due-diligence")
def open_due_diligence(client_id: int) -> Response:
    actor = current_actor()
    review.reviewable_client(db.session, client_id, actor)  # who, before the form is read
    comment = (request.form.get("comment") or "").strip() or None
    try:
        case = transact(
            db.session,
            lambda: review.open_review(
                db.session,
                client_id,
                actor,
                reason="ad_hoc",
                comment=comment,
                request_id=g.get("request_id"),
            ),
        )
    except Duplicate as exc:
        db.session.rollback()
        flash(str(refusal(exc)), "error")
        return redirect(url_for("console.case", instance_id=exc.extra["instance_id"]))
    flash(_("Due diligence opened (case #%(id)s).", id=case.id), "ok")
    return redirect(url_for("console.case", instance_id=case.id))
