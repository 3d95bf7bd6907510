"""Editing a client's ordinary fields (the answer to a "return for information" is often new
data): the same ``client_service.update_client`` as ``PATCH /api/v1/clients/{id}``.

Sensitive fields go through a change request; values masked from the editor are left empty
on the form and kept unless filled in; only what the editor changed is sent, with the
version the form was drawn from (someone else's edit in between is a clear refusal)."""

from __future__ import annotations

from typing import Any

from flask import flash, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.datastructures import MultiDict
from werkzeug.wrappers import Response

from workflow.errors import Conflict, ValidationFailed
from workflow.platform.hygiene import whole_number
from workflow.platform.transaction import transact
from workflow.records.identity import Actor
from workflow.risk.clients import queries as client_queries
from workflow.risk.clients import service as client_service
from workflow.risk.clients.masking import PUBLIC_FIELDS, can_see_sensitive, mask_client
from workflow.risk.clients.model import CLIENT_TYPES, CONSENT_BASES, OWNERSHIP_TYPES, Client
from workflow.risk.clients.service import CODE_EDITABLE_STATUSES, IDENTITY_FIELDS
from workflow.risk.screening.rules import PAYMENT_HISTORIES

from ..client_form import CONTACT_FIELDS, FACT_FIELDS, field_errors
from ..console import blp, current_actor
from ..database import db
from ..refusals import Refusal, field_messages, refusal

TEXT = (
    "client_type",
    "name",
    "credit_code",
    "id_number",
    "consent_basis",
    "consent_at",
    "industry",
    "region",
    "registered_capital",
    "established_on",
    "ownership_type",
    "state_ownership_pct",
)
NUMBERS = ("registered_capital", "state_ownership_pct")


def _hidden(actor: Actor, client: Client) -> frozenset[str]:
    """Fields masked or hidden from this editor: left empty on the form, kept unless filled
    (the owner sees the contacts they collected)."""
    if can_see_sensitive(actor.roles):
        return frozenset()
    hidden = frozenset((*TEXT, "contacts", "facts")) - PUBLIC_FIELDS
    return hidden - {"contacts"} if client.owner == actor.username else hidden


def _prefill(client: Client, actor: Actor, *, read: bool = False) -> dict[str, str]:
    """The form's starting values: what the editor may see, empty where masked (``read``:
    the form is shown, a logged read of the record)."""
    view = (
        client_service.client_view(db.session, client, actor, view="edit")
        if read
        else mask_client(
            client_service.client_record(client), actor.roles, owner=client.owner == actor.username
        )
    )
    hidden = _hidden(actor, client)
    values: dict[str, str] = {}
    for name in TEXT:
        value = view.get(name)
        values[name] = "" if name in hidden or value is None else str(value)
    contact = {} if "contacts" in hidden else (view.get("contacts") or [{}])[0]
    for key in CONTACT_FIELDS:
        values[f"contact_{key}"] = str(contact.get(key) or "")
    facts = {} if "facts" in hidden else (view.get("facts") or {})
    for key in FACT_FIELDS:
        values[f"fact_{key}"] = "" if facts.get(key) is None else str(facts[key])
    values["tags"] = ", ".join(view.get("tags") or [])
    return values


def _fact(key: str, value: str) -> Any:
    number = whole_number(value) if key != "payment_history" else None
    return value if number is None else number


def _changes(
    form: MultiDict[str, str], before: dict[str, str], client: Client, hidden: frozenset[str]
) -> dict[str, Any]:
    """Only what the editor changed, as the service's fields. An emptied field is cleared,
    except one hidden from the editor: there an empty field keeps the stored value."""
    now = {k: form.get(k, "").strip() for k in before}
    changed = {k for k in before if now[k] != before[k]}
    out: dict[str, Any] = {}
    for name in TEXT:
        if name == "client_type" and not now[name]:
            continue  # a type is never cleared; a form without the choice keeps it
        if name in changed:
            value = now[name].replace(",", "") if name in NUMBERS else now[name]
            out[name] = value or None
    contact_keys = {f"contact_{k}" for k in CONTACT_FIELDS}
    if changed & contact_keys:
        base = dict((client.contacts or [{}])[0]) if "contacts" in hidden else {}
        contact = {k: now[f"contact_{k}"] or base.get(k) for k in CONTACT_FIELDS}
        rest = list(client.contacts or [])[1:]
        out["contacts"] = ([contact] if any(contact.values()) else []) + rest
    if changed & {f"fact_{k}" for k in FACT_FIELDS}:
        facts = dict(client.facts or {}) if "facts" in hidden else {}
        facts |= {k: _fact(k, now[f"fact_{k}"]) for k in FACT_FIELDS if now[f"fact_{k}"]}
        out["facts"] = facts
    if "tags" in changed:
        out["tags"] = [t.strip() for t in now["tags"].replace("，", ",").split(",") if t.strip()]
    return out


def _page(
    client: Client,
    values: dict[str, str],
    errors: dict[str, str],
    message: Refusal | None,
    status: int = 200,
) -> tuple[str, int]:
    return render_template(
        "client_edit.html",
        client=client,
        values=values,
        errors=errors,
        message=message,
        hidden=_hidden(current_actor(), client),
        code_editable=client.status in CODE_EDITABLE_STATUSES,
        ownership_types=OWNERSHIP_TYPES,
        payment_histories=PAYMENT_HISTORIES,
        client_types=CLIENT_TYPES,
        consent_bases=CONSENT_BASES,
    ), status


def _editable(client_id: int) -> Client:
    actor = current_actor()
    client = client_queries.read_client(db.session, client_id, actor)
    client_service.require_editor(client, actor, "editing a client")
    return client


@blp.get("/clients/<int:client_id>/edit")
def edit_client(client_id: int) -> tuple[str, int]:
    client = _editable(client_id)
    values = _prefill(client, current_actor(), read=True)
    db.session.commit()  # the read is logged
    return _page(client, values, {}, None)


@blp.post("/clients/<int:client_id>/edit")
def save_client(client_id: int) -> Response | tuple[str, int]:
    actor = current_actor()
    client = _editable(client_id)
    before = _prefill(client, actor)
    changes = _changes(request.form, before, client, _hidden(actor, client))
    if client.status not in CODE_EDITABLE_STATUSES:
        for name in IDENTITY_FIELDS:
            changes.pop(name, None)
    if not changes:
        flash(_("Nothing changed."), "ok")
        return redirect(url_for("console.client", client_id=client_id))
    try:
        transact(
            db.session,
            lambda: client_service.update_client(
                db.session,
                client_id,
                changes,
                actor,
                expected_version=request.form.get("version", type=int),
            ),
        )
    except ValidationFailed as exc:
        db.session.rollback()
        return _page(
            client,
            request.form.to_dict(),
            field_errors(field_messages(exc.extra.get("errors") or {})),
            refusal(exc),
            422,
        )
    except Conflict as exc:  # someone edited first, or a duplicate credit code
        db.session.rollback()
        if exc.code == "client.duplicate_id_number":
            said = refusal(exc)
            return _page(client, request.form.to_dict(), {"id_number": said.text}, said, 409)
        if (
            "credit_code" in (exc.extra.get("fields") or [])
            or exc.code == "client.duplicate_credit_code"
        ):
            said = refusal(exc)
            return _page(client, request.form.to_dict(), {"credit_code": said.text}, said, 409)
        # The form starts again from the current record: sending the old form with the new
        # version would quietly undo what the other person changed.
        fresh = _editable(client_id)
        return _page(fresh, _prefill(fresh, actor), {}, refusal(exc), 409)
    flash(_("Client saved."), "ok")
    return redirect(url_for("console.client", client_id=client_id))
