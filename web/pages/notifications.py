"""My notifications (alerts, SLA breaches, digests): newest first, unread marked, mark read."""

from __future__ import annotations

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from workflow.platform.transaction import transact
from workflow.risk.notify import notifications as notes

from ..console import blp, current_actor
from ..database import db
from ..texts import note_text

PAGE = 50


@blp.get("/notifications")
def notifications() -> str:
    actor = current_actor()
    unread_only = request.args.get("unread") == "1"
    before = request.args.get("before", type=int)
    rows, more = notes.list_notifications(
        db.session,
        actor,
        unread=unread_only,
        limit=PAGE,
        before_id=before if before and before > 0 else None,
    )
    next_url = (
        url_for(
            "console.notifications", before=rows[-1].id, **({"unread": "1"} if unread_only else {})
        )
        if more and rows
        else None
    )
    return render_template(
        "notifications.html",
        rows=rows,
        unread_only=unread_only,
        unread=notes.unread_count(db.session, actor.username),
        next_url=next_url,
        note_text=note_text,
    )


@blp.post("/notifications/<int:notification_id>/read")
def read_notification(notification_id: int) -> Response:
    actor = current_actor()
    note = transact(db.session, lambda: notes.mark_read(db.session, actor, notification_id))
    if request.form.get("open") == "1" and note.instance_id:
        return redirect(url_for("console.case", instance_id=note.instance_id))
    return redirect(url_for("console.notifications"))


@blp.post("/notifications/read-all")
def read_all_notifications() -> Response:
    actor = current_actor()
    marked = transact(db.session, lambda: notes.mark_all_read(db.session, actor))
    flash(_("%(num)d notifications marked read.", num=marked), "ok")
    return redirect(url_for("console.notifications"))
