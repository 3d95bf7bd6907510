"""Watch-list management in the console: the lists with their entry counts, upload of a CSV or
JSON list file (risk officers and managers), a list's entries searched by name, credit code or
ID number (never shown: only digests are stored) and the import history with the progress of
re-screening — ``workflow.risk.screening.watchlist_admin``, the same import as the CLI's."""

from __future__ import annotations

from typing import Any

from flask import abort, flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from flask_babel import lazy_gettext
from werkzeug.wrappers import Response

from workflow.errors import ValidationFailed
from workflow.platform.transaction import transact
from workflow.risk import labels
from workflow.risk.screening import watchlist_admin as lists
from workflow.risk.screening.watchlist_files import COLUMNS, LISTS, OPTIONAL

from ..console import blp, current_actor
from ..database import db
from ..i18n import content_lang
from ..refusals import field_message, refusal

PAGE = 50
# The columns of a list file, as its reader names them (the Chinese headers are accepted).
COLUMN_WORDS = {
    "credit_code": lazy_gettext("Credit code"),
    "name": lazy_gettext("Name"),
    "list": lazy_gettext("List"),
    "reason": lazy_gettext("Reason"),
    "aliases": lazy_gettext("Aliases"),
    "id_number": lazy_gettext("ID number"),
}


@blp.app_context_processor
def watchlist_words() -> dict[str, Any]:
    return {
        "list_label": lambda name: labels.word(labels.WATCHLISTS, name, content_lang()),
        "column_label": lambda column: str(COLUMN_WORDS.get(column, column)),
        "rescreen_label": lambda status: labels.word(
            labels.RESCREEN_STATUSES, status, content_lang()
        ),
    }


def _problems(errors: dict[str, Any]) -> list[dict[str, Any]]:
    """The refused file's rows (``row 3``) or parts (``header``, ``file``) and what is wrong
    with each cell, in the reader's language."""
    found = []
    for where, messages in errors.items():
        number = where.removeprefix("row ").strip()
        for message in messages if isinstance(messages, list) else [messages]:
            column = (getattr(message, "params", None) or {}).get("column")
            found.append(
                {
                    "row": int(number) if number.isdigit() else None,
                    "column": column,
                    "message": field_message(message),
                }
            )
    return found


def _page(message: Any = None, problems: list[dict[str, Any]] | None = None, status: int = 200):  # noqa: ANN202
    actor = current_actor()
    imports, _next = lists.import_history(db.session, limit=5)
    return render_template(
        "watchlists.html",
        counts=lists.entry_counts(db.session),
        recent=[(r, lists.totals(r)) for r in imports],
        may_upload=lists.may_upload(actor),
        columns=(*COLUMNS, *OPTIONAL),
        lists=LISTS,
        message=message,
        problems=problems or [],
    ), status


@blp.get("/watchlists")
def watchlists() -> tuple[str, int]:
    lists.require_reader(current_actor())
    return _page()


@blp.post("/watchlists")
def upload_watchlist() -> Response | tuple[str, int]:
    actor = current_actor()
    lists.require_uploader(actor)  # who, before the file is read
    upload = request.files.get("file")
    if upload is None or not upload.filename:
        return _page(_("Choose a CSV or JSON file."), status=422)
    name = lists.source_name(upload.filename)
    try:
        summary = transact(db.session, lambda: lists.upload(db.session, upload.stream, name, actor))
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(refusal(exc), _problems(exc.extra.get("errors") or {}), 422)
    done = lists.totals_of(summary.counts)
    flash(
        _(
            "Imported %(file)s: %(rows)s entries, %(added)s added, %(changed)s changed, "
            "%(removed)s removed.",
            file=name,
            **done,
        )
        + " "
        + (
            _("Active clients are being re-screened against what changed.")
            if summary.delta
            else _("Nothing changed; no client needs re-screening.")
        ),
        "ok",
    )
    return redirect(url_for("console.watchlist_imports"))


@blp.get("/watchlists/<name>")
def watchlist_entries(name: str) -> str:
    lists.require_reader(current_actor())
    if name not in lists.entry_counts(db.session):
        abort(404)
    query = request.args.get("q", "")
    cursor = request.args.get("after", 0, type=int)
    rows, next_cursor = lists.search_entries(db.session, name, query, after_id=cursor, limit=PAGE)
    next_url = (
        url_for("console.watchlist_entries", name=name, q=query or None, after=next_cursor)
        if next_cursor
        else None
    )
    return render_template(
        "watchlist_entries.html", name=name, rows=rows, query=query, next_url=next_url
    )


@blp.get("/watchlists/imports")
def watchlist_imports() -> str:
    lists.require_reader(current_actor())
    cursor = request.args.get("before", type=int)
    rows, next_cursor = lists.import_history(db.session, before_id=cursor, limit=PAGE)
    next_url = url_for("console.watchlist_imports", before=next_cursor) if next_cursor else None
    return render_template(
        "watchlist_imports.html",
        rows=[(r, lists.totals(r)) for r in rows],
        next_url=next_url,
        pending=any(r.rescreen_status == "pending" for r in rows),
    )
