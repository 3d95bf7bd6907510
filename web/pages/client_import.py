"""Batch client import in the console: a CSV or Excel file (Chinese column headers accepted)
previewed row by row — the same ``bulk_import.run_import`` as ``POST /api/v1/clients/import``
with ``dry_run`` — then imported; a file with any bad row imports nothing and shows them."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from workflow.errors import ValidationFailed
from workflow.platform.transaction import transact
from workflow.risk.clients import bulk_import

from ..console import blp, current_actor
from ..database import db
from ..refusals import field_messages, refusal


def _page(report: dict[str, Any] | None = None, message: Any = None, status: int = 200):  # noqa: ANN202
    if report:
        report = {
            **report,
            "errors": [
                {**e, "messages": field_messages(list(e.get("messages") or []))}
                for e in report.get("errors") or []
            ],
        }
    return render_template(
        "client_import.html",
        report=report,
        message=message,
        columns=bulk_import.COLUMNS,
    ), status


@blp.get("/clients/import")
def import_clients() -> tuple[str, int]:
    bulk_import.authorize_import(current_actor())
    return _page()


@blp.post("/clients/import")
def run_client_import() -> Response | tuple[str, int]:
    actor = current_actor()
    bulk_import.authorize_import(actor)  # who, before the file is read
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(message=_("Choose a CSV or Excel file."), status=422)
    content, name = upload.read(), upload.filename
    dry_run = request.form.get("dry_run") == "1"
    try:
        report = transact(
            db.session,
            lambda: bulk_import.run_import(
                db.session,
                content,
                name,
                actor,
                dry_run=dry_run,
                submit=request.form.get("submit") == "1",
            ),
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(exc.extra.get("report"), refusal(exc), 422)
    if dry_run:
        return _page(report.to_dict())
    flash(
        _(
            "Imported %(file)s: %(created)s created, %(updated)s updated, %(unchanged)s unchanged.",
            file=name,
            created=report.created,
            updated=report.updated,
            unchanged=report.unchanged,
        ),
        "ok",
    )
    return redirect(url_for("console.clients"))
