"""A client's contracts in the console: new and edit forms for the terms (the same
``client_service.update_client`` as ``PATCH /api/v1/clients/{id}`` with ``contracts``),
and on the portrait's 合同 tab each contract's files and performance notes (履约记录),
through ``workflow.risk.clients.contracts``.

A contract is addressed by its place in the client's list together with the version the
page was drawn from: an edit by someone else in between is refused, not merged."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, send_file, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from workflow.errors import Conflict, NotFound, ValidationFailed
from workflow.platform.filestore import download_name
from workflow.platform.transaction import transact
from workflow.risk.clients import contracts as contract_files
from workflow.risk.clients import queries as client_queries
from workflow.risk.clients import service as client_service
from workflow.risk.clients.masking import can_see_sensitive
from workflow.risk.clients.model import Client
from workflow.risk.due_diligence.periodic_review import schedule_contract_reminders

from ..client_form import field_errors
from ..console import blp, current_actor
from ..database import db
from ..refusals import Refusal, field_messages, refusal
from ..uploads import UploadRefused, store_files

TERMS = ("number", "amount", "start", "end")


def _editable(client_id: int) -> Client:
    actor = current_actor()
    client = client_queries.read_client(db.session, client_id, actor)
    client_service.require_editor(client, actor, "editing a client's contracts")
    return client


def _contract(client: Client, index: int) -> dict[str, Any]:
    listed = list(client.contracts or [])
    if not 0 <= index < len(listed):
        raise NotFound(f"client {client.id} has no contract #{index + 1}")
    return dict(listed[index] or {})


def _page(
    client: Client,
    index: int | None,
    values: dict[str, str],
    errors: dict[str, str],
    message: Refusal | None = None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "contract_form.html",
        client=client,
        index=index,
        values=values,
        errors=errors,
        message=message,
        amount_hidden=not can_see_sensitive(current_actor().roles),
    ), status


def _terms(form: Any, kept: dict[str, Any]) -> dict[str, Any]:
    """The contract as the service takes it; an amount masked from the editor and left
    empty keeps the stored one."""
    typed = {k: (form.get(k) or "").strip() for k in TERMS}
    amount: Any = typed["amount"].replace(",", "") or None
    if amount is None and not can_see_sensitive(current_actor().roles):
        amount = kept.get("amount")
    return {
        "number": typed["number"],
        "amount": amount,
        "start": typed["start"] or None,
        "end": typed["end"] or None,
    }


def _save(client: Client, listed: list[dict[str, Any]], index: int) -> tuple[str, int] | None:
    """Write the list; the form again with its errors, or None when saved."""
    actor = current_actor()
    try:
        saved = transact(
            db.session,
            lambda: client_service.update_client(
                db.session,
                client.id,
                {"contracts": listed},
                actor,
                expected_version=request.form.get("version", type=int),
            ),
        )
    except ValidationFailed as exc:
        db.session.rollback()
        errors = (exc.extra.get("errors") or {}).get("contracts") or {}
        mine = errors.get(index, errors.get(str(index))) if isinstance(errors, dict) else None
        shown = field_errors(field_messages(mine if isinstance(mine, dict) else {}))
        values = request.form.to_dict()
        return _page(client, index, values, shown, refusal(exc), 422)
    except Conflict as exc:  # someone edited the client first
        db.session.rollback()
        fresh = _editable(client.id)
        return _page(fresh, None, request.form.to_dict(), {}, refusal(exc), 409)
    if saved.status == "active":
        transact(db.session, lambda: schedule_contract_reminders(db.session, saved))
    return None


@blp.route("/clients/<int:client_id>/contracts/new", methods=["GET", "POST"])
def new_contract(client_id: int) -> Response | tuple[str, int]:
    client = _editable(client_id)
    if request.method == "GET":
        return _page(client, None, {}, {})
    listed = [dict(c or {}) for c in client.contracts or []]
    listed.append(_terms(request.form, {}))
    refused = _save(client, listed, len(listed) - 1)
    if refused is not None:
        return refused
    flash(_("Contract saved."), "ok")
    return redirect(url_for("console.client", client_id=client_id, tab="contracts"))


@blp.route("/clients/<int:client_id>/contracts/<int:index>/edit", methods=["GET", "POST"])
def edit_contract(client_id: int, index: int) -> Response | tuple[str, int]:
    client = _editable(client_id)
    kept = _contract(client, index)
    if request.method == "GET":
        shown = {k: "" if kept.get(k) is None else str(kept[k]) for k in TERMS}
        if not can_see_sensitive(current_actor().roles):
            shown["amount"] = ""
        return _page(client, index, shown, {})
    listed = [dict(c or {}) for c in client.contracts or []]
    listed[index] = _terms(request.form, kept)
    refused = _save(client, listed, index)
    if refused is not None:
        return refused
    flash(_("Contract saved."), "ok")
    return redirect(url_for("console.client", client_id=client_id, tab="contracts"))


def _number(client_id: int, index: int) -> str:
    client = client_queries.read_client(db.session, client_id, current_actor())
    return str(_contract(client, index).get("number") or "")


@blp.post("/clients/<int:client_id>/contracts/<int:index>/files")
def add_contract_files(client_id: int, index: int) -> Response:
    actor = current_actor()
    number = _number(client_id, index)
    try:
        stored = store_files(
            request.files.getlist("files"),
            lambda stream, name, content_type: (
                contract_files.attach_file(
                    db.session,
                    client_id,
                    number,
                    actor,
                    stream,
                    filename=name,
                    content_type=content_type,
                ).sha256
                or ""
            ),
        )
    except UploadRefused as exc:
        db.session.rollback()
        flash(exc.message, "error")
    else:
        if stored:
            flash(_("Files added to contract %(number)s.", number=number), "ok")
    return redirect(url_for("console.client", client_id=client_id, tab="contracts"))


@blp.post("/clients/<int:client_id>/contracts/<int:index>/notes")
def add_contract_note(client_id: int, index: int) -> Response:
    actor = current_actor()
    number = _number(client_id, index)
    text = request.form.get("text", "")
    try:
        transact(
            db.session,
            lambda: contract_files.add_note(db.session, client_id, number, actor, text),
        )
    except ValidationFailed as exc:
        db.session.rollback()
        flash(str(refusal(exc)), "error")
    else:
        flash(_("Performance note added to contract %(number)s.", number=number), "ok")
    return redirect(url_for("console.client", client_id=client_id, tab="contracts"))


@blp.get("/clients/<int:client_id>/contract-files/<sha256>")
def download_contract_file(client_id: int, sha256: str) -> Response:
    row, path = contract_files.file_to_download(db.session, client_id, sha256, current_actor())
    response = send_file(
        path,
        mimetype=row.content_type,
        as_attachment=True,
        download_name=download_name(row.filename or sha256, row.content_type or ""),
        etag=row.sha256,
        conditional=True,
    )
    response.headers["Cache-Control"] = "private, no-store"
    return response
