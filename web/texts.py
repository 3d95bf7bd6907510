"""Codes with their params, worded in the reader's language: the one place every page
goes through for the texts the system writes (``workflow.texts``: notifications, system
comments, the digest), refusals (``RiskloopError.code``) and field messages
(``workflow.errors.Message``, marshmallow's through ``workflow.field_messages``).

A row written before codes existed has no code and is shown as it was stored; so is a
code this module does not know (a newer writer, say).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask import Flask
from flask_babel import force_locale
from flask_babel import gettext as _

from workflow import texts
from workflow.errors import NotFound
from workflow.records.models import AuditRecord, Notification
from workflow.risk import labels

from .database import runtime_of
from .i18n import (
    amount,
    choice_label,
    content_lang,
    field_label,
    label,
    level_label,
    state_label,
    status_label,
    when,
)
from .navigation import role_label


def _definition(name: Any, version: Any = None) -> Any:
    """The named definition (that version when known), or None when it is not loaded."""
    if not name:
        return None
    try:
        catalog = runtime_of().catalog
        return catalog.get(str(name), int(version)) if version else catalog.get(str(name))
    except (NotFound, LookupError, ValueError, RuntimeError):
        return None


def _state(p: dict[str, Any], state: Any) -> str:
    definition = _definition(p.get("definition"), p.get("version"))
    return state_label(definition, str(state)) if definition is not None else str(state or "")


def _action(p: dict[str, Any], trigger: Any) -> str:
    definition = _definition(p.get("definition"), p.get("version"))
    transitions = definition.by_trigger.get(str(trigger)) if definition is not None else None
    return label(transitions[0].label, str(trigger)) if transitions else str(trigger or "")


def _outcome(outcome: Any) -> str:
    return labels.word(labels.REVIEW_OUTCOMES, str(outcome), content_lang())


def _decided_by(by: Any) -> str:
    return labels.word(labels.DECIDED_BY, str(by), content_lang())


def _stage(stage: Any) -> str:
    return labels.word(labels.ALERT_STAGES, str(stage), content_lang())


def _rating_trigger(trigger: Any) -> str:
    """What caused a re-rating: ``screening``, ``event:4``, ``change_request:9``."""
    kind, _sep, ref = str(trigger or "").partition(":")
    if kind == "event" and ref:
        return _("risk event #%(id)s", id=ref)
    if kind == "change_request" and ref:
        return _("change request #%(id)s", id=ref)
    if kind == "screening":
        return _("screening")
    return str(trigger or "")


def _digest_body(p: dict[str, Any]) -> str:
    def lines(items: Any) -> list[str]:
        return [
            _(
                "- [%(level)s] #%(id)s %(title)s (client %(client)s, %(state)s, case %(case)s)",
                level=level_label(str(a.get("level"))),
                id=a.get("id"),
                title=a.get("title"),
                client=a.get("client_name") or a.get("client"),
                state=_state(p, a.get("state")),
                case=a.get("case"),
            )
            for a in items or []
            if isinstance(a, dict)
        ] or [_("- none")]

    return "\n".join(
        [_("New alerts:"), *lines(p.get("new")), "", _("SLA breached:"), *lines(p.get("breached"))]
    )


def _alert_action_body(p: dict[str, Any]) -> str:
    text = _(
        "%(who)s did %(action)s on alert case #%(id)s.",
        who=p.get("actor"),
        action=_action(p, p.get("trigger")),
        id=p.get("case"),
    )
    return f"{text} {p['comment']}" if p.get("comment") else text


# code (``workflow.texts.ENGLISH``) → its words in the reader's language.
_WORDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "comment.rated": lambda p: _(
        "Rated %(rating)s (%(by)s)", rating=p.get("rating"), by=_decided_by(p.get("decided_by"))
    ),
    "comment.admission_withdrawn": lambda p: _("The admission was withdrawn"),
    "comment.due_diligence_outcome": lambda p: _(
        "Due diligence #%(id)s %(outcome)s", id=p.get("case"), outcome=_outcome(p.get("outcome"))
    ),
    "comment.timer_due": lambda p: _(
        "Timer %(id)s due %(when)s", id=p.get("timer"), when=when(str(p.get("due")))
    ),
    "comment.periodic_review_due": lambda p: _("Periodic review due %(date)s", date=p.get("date")),
    "comment.retention_due": lambda p: _(
        "Retention period (%(years)s years after offboarding on %(date)s) has passed",
        years=p.get("years"),
        date=p.get("date"),
    ),
    "comment.batch_import": lambda p: _("Batch import of %(file)s", file=p.get("file")),
    "alert.raised": lambda p: _(
        "[%(level)s] %(title)s", level=level_label(str(p.get("level"))), title=p.get("title")
    ),
    "alert.raised.body": lambda p: _(
        "%(client)s: %(category)s. %(details)s",
        client=p.get("client"),
        category=choice_label(p.get("category")),
        details=p.get("details"),
    ).rstrip(),
    "alert.action": lambda p: _(
        "[%(level)s] %(action)s: %(title)s",
        level=level_label(str(p.get("level"))),
        action=_action(p, p.get("trigger")),
        title=p.get("title"),
    ),
    "alert.action.body": _alert_action_body,
    "alert.breached": lambda p: _(
        "[%(level)s] SLA to %(stage)s breached: %(title)s",
        level=level_label(str(p.get("level"))),
        stage=_stage(p.get("stage")),
        title=p.get("title"),
    ),
    "alert.breached.body": lambda p: _(
        "Alert #%(id)s missed its %(stage)s deadline (breach %(num)s); managers were told.",
        id=p.get("alert"),
        stage=_stage(p.get("stage")),
        num=p.get("breaches"),
    ),
    "case.sla_breached": lambda p: _(
        "SLA breached on case #%(id)s (%(state)s)",
        id=p.get("case"),
        state=_state(p, p.get("state")),
    ),
    "review.due": lambda p: _(
        "Periodic due-diligence review of %(client)s is due (case #%(id)s)",
        client=p.get("client"),
        id=p.get("case"),
    ),
    "contract.expiring": lambda p: _(
        "Contract %(number)s of %(client)s ends on %(end)s",
        number=p.get("number"),
        client=p.get("client"),
        end=p.get("end"),
    ),
    "digest.sent": lambda p: _(
        "Alert digest %(day)s: %(new)s new, %(breached)s breached",
        day=p.get("day"),
        new=p.get("new_count"),
        breached=p.get("breached_count"),
    ),
    "digest.sent.body": _digest_body,
    "client.rerated": lambda p: _(
        "%(client)s re-rated %(before)s → %(after)s",
        client=p.get("client"),
        before=p.get("before"),
        after=p.get("after"),
    ),
    "client.rerated.body": lambda p: _(
        "Risk level %(level)s, credit limit %(limit)s (%(trigger)s).",
        level=level_label(str(p.get("level"))) if p.get("level") else "—",
        limit=amount(p.get("limit")),
        trigger=_rating_trigger(p.get("trigger")),
    ),
}


def render(code: str | None, params: dict[str, Any] | None) -> str | None:
    """``code`` with ``params`` in the reader's language; None for no code or an unknown one."""
    say = _WORDS.get(code or "")
    return say(dict(params or {})) if say is not None else None


def comment_text(record: AuditRecord) -> str:
    """The record's comment in the reader's language when the system wrote it with a code;
    any other comment (a person's, or one stored before codes) as stored."""
    coded = texts.comment_text(record.payload)
    text = render(*coded) if coded is not None else None
    return text if text is not None else record.comment or ""


@dataclass
class NoteText:
    title: str
    body: str


def note_text(note: Notification) -> NoteText:
    """The notification's title and body in the reader's language (stored text without a code)."""
    title = render(note.code, note.params)
    if title is None:
        return NoteText(note.title, note.body or "")
    body = render(f"{note.code}.body", note.params)
    return NoteText(title, body if body is not None else note.body or "")


def wording(app: Flask) -> Callable[[str, dict[str, Any], str], str | None]:
    """How the engine words a code for texts pushed out of ``app`` (mail, group robots):
    :func:`render` in the given language (``zh-CN``/``en``), outside any request."""

    def word(code: str, params: dict[str, Any], language: str) -> str | None:
        with app.app_context(), force_locale("en" if language == "en" else "zh_CN"):
            return render(code, params)

    return word


def system_words() -> set[str]:
    """The codes worded here (a test checks they are the catalogue's)."""
    return set(_WORDS)


# Refusals and field messages -----------------------------------------------------------
# ``RiskloopError.code`` and :class:`workflow.errors.Message` codes (guards' reasons,
# validators' messages, marshmallow's through workflow/field_messages.py).


def _action_in(definition: Any, trigger: str | None) -> str:
    if definition is None or not trigger:
        return trigger or ""
    transitions = definition.by_trigger.get(trigger) or []
    return label(transitions[0].label, trigger) if transitions else trigger


def _state_in(definition: Any, state: str | None) -> str:
    if definition is None or not state or state not in definition.states:
        return state or ""
    return label(definition.states[state].label, state)


def _listed(words: list[str]) -> str:
    return _(", ").join(words)


_DATA_USERS = {"first_approver": lambda: _("first approver"), "analyst": lambda: _("analyst")}


def refusal_text(code: str, p: dict[str, Any], definition: Any = None) -> str | None:
    """The sentence for ``code`` with its parameters, or None for an unknown code."""
    action = _action_in(definition, p.get("trigger"))
    words: dict[str, Callable[[], str]] = {
        "instance.version_conflict": lambda: _("Someone acted first — reload."),
        "client.version_conflict": lambda: _("Someone edited this client first — reload."),
        "watchlist.bad_rows": lambda: _(
            "%(file)s has %(n)s bad row(s), listed below; nothing was imported. Correct them "
            "and upload the file again.",
            file=p.get("file"),
            n=p.get("bad"),
        ),
        "instance.not_found": lambda: _(
            "Case #%(id)s does not exist, or you cannot see it.", id=p.get("id")
        ),
        "action.illegal_state": lambda: _(
            "“%(action)s” cannot be done while the case is at “%(state)s”; reload to see "
            "what is possible now.",
            action=action,
            state=_state_in(definition, p.get("state")),
        ),
        "action.role": lambda: _(
            "“%(action)s” needs one of the roles: %(roles)s.",
            action=action,
            roles=_listed([role_label(r) for r in p.get("roles") or []]),
        ),
        "action.condition": lambda: _(
            "“%(action)s” is not possible with this case's data.", action=action
        ),
        "action.invalid": lambda: _(
            "Some input of “%(action)s” is invalid; see the fields below.", action=action
        ),
        "sod.initiator": lambda: _(
            "Segregation of duties: the person who started this case may not decide it."
        ),
        "sod.repeat_actor": lambda: _(
            "Segregation of duties: you already did “%(actions)s” on this case; another person "
            "must do this step.",
            actions=_listed([_action_in(definition, t) for t in p.get("triggers") or []]),
        ),
        "sod.data_user": lambda: _(
            "Segregation of duties: you are this case's %(part)s; another person must do this "
            "step.",
            part=_DATA_USERS.get(str(p.get("key")), lambda: str(p.get("key")))(),
        ),
        "sod.no_roles": lambda: _(
            "Segregation of duties: a user holding the role %(roles)s may not do this step, "
            "even with another role; ask an approver without it.",
            roles=_listed([role_label(r) for r in p.get("roles") or []]),
        ),
        "sod.analyst": lambda: _(
            "Segregation of duties: you submitted this review as the analyst and may not "
            "decide it; another risk officer or a manager must."
        ),
        "config.hash_mismatch": lambda: _(
            "The content hash you approved is not this change's (%(hash)s); read the change "
            "again and approve the content it holds.",
            hash=p.get("content_hash"),
        ),
        "config.stale_draft": lambda: _(
            "Another version was activated since this change was drafted; it cannot be "
            "approved. Reject it and draft the change again against the active version."
        ),
        "guard.assignee_only": lambda: _("This case is assigned to someone else."),
        "guard.initiator_only": lambda: _(
            "Only %(user)s, who started this case, may do this step.", user=p.get("initiator")
        ),
        "guard.client_owner": lambda: _("Only the client's owner may do this."),
        "client.owner": lambda: _(
            "Client #%(id)s is owned by another sales user.", id=p.get("client_id")
        ),
        "client.duplicate_id_number": lambda: _(
            "A natural person with this identity number already exists (client #%(id)s); open "
            "that record instead of creating a second one.",
            id=p.get("client_id"),
        ),
        "client.person_credit_code": lambda: _(
            "A natural person has no credit code; give the identity number instead."
        ),
        "client.duplicate_credit_code": lambda: _(
            "A client with credit code %(code)s already exists (client #%(id)s); open that "
            "record instead of creating a second one.",
            code=p.get("credit_code"),
            id=p.get("client_id"),
        ),
        "admission.role": lambda: _("Only sales users submit clients for admission."),
        "admission.running": lambda: _(
            "Client #%(client)s already has an admission running (case #%(case)s); act on that "
            "case or withdraw it first.",
            client=p.get("client_id"),
            case=p.get("case_id"),
        ),
        "admission.status": lambda: _(
            "Client #%(client)s is %(status)s; only prospects and rejected clients can be "
            "submitted for admission.",
            client=p.get("client_id"),
            status=status_label(p.get("status")),
        ),
        "change.open_request": lambda: _(
            "Change request #%(case)s is still open for %(fields)s; wait for its decision or "
            "ask its requester to cancel it.",
            case=p.get("case_id"),
            fields=_listed([field_label(f) for f in p.get("fields") or []]),
        ),
        "erasure.open_case": lambda: _(
            "Case #%(case)s on this client is still open; its personal data can be erased once "
            "every case on it has ended.",
            case=p.get("case_id"),
        ),
        "erasure.open_request": lambda: _(
            "Erasure request #%(case)s for this client is still open; wait for its decision.",
            case=p.get("case_id"),
        ),
        "client.erased": lambda: _(
            "Client #%(client)s was erased (PIPL): its personal data can no longer be written "
            "or read.",
            client=p.get("client_id"),
        ),
        "evidence.role": lambda: _(
            "Evidence files of this case are uploaded by: %(roles)s.",
            roles=_listed([role_label(r) for r in p.get("roles") or []]),
        ),
        "evidence.closed": lambda: _(
            "Evidence is added while the case is at %(states)s; it is now at “%(state)s”.",
            states=_listed([f"“{_state_in(definition, s)}”" for s in p.get("states") or []]),
            state=_state_in(definition, p.get("state")),
        ),
        "race": lambda: _("Someone else changed the same record at the same moment; try again."),
        "role.required": lambda: _(
            "This needs one of the roles: %(roles)s.",
            roles=_listed([role_label(r) for r in p.get("roles") or []]),
        ),
        "due_diligence.open": lambda: _(
            "Client #%(client)s already has an open due-diligence review (case #%(case)s); "
            "continue that one.",
            client=p.get("client_id"),
            case=p.get("case_id"),
        ),
        "client.owner_self": lambda: _(
            "Sales users create clients they own; leave the owner empty."
        ),
        "client.owner_manager": lambda: _(
            "Only a manager may hand a client to another sales user."
        ),
        "client.sensitive_fields": lambda: _(
            "%(fields)s can only be changed with a dual approval: file a change request.",
            fields=_listed([field_label(f) for f in p.get("fields") or []]),
        ),
        "client.screening_fields": lambda: _(
            "%(fields)s were screened already: they change only with a dual approval "
            "(a change request) or through risk events.",
            fields=_listed([field_label(f) for f in p.get("fields") or []]),
        ),
        "client.credit_code_fixed": lambda: _(
            "The credit code of a client who is %(status)s can be corrected only before admission "
            "or after a rejection; offboard this client and create it anew with the right code.",
            status=status_label(p.get("status")),
        ),
    }
    say = words.get(code)
    return say() if say is not None else None


def _range(p: dict[str, Any], *, lower: bool, upper: bool) -> str:
    """``Must be at least 0 and less than 10^17.``: marshmallow's Range in words."""
    parts = []
    if lower:
        parts.append(
            _("at least %(n)s", n=p.get("min"))
            if p.get("min_inclusive", True)
            else _("more than %(n)s", n=p.get("min"))
        )
    if upper:
        parts.append(
            _("at most %(n)s", n=p.get("max"))
            if p.get("max_inclusive", True)
            else _("less than %(n)s", n=p.get("max"))
        )
    return _("Must be %(range)s.", range=_(" and ").join(parts))


def field_text(code: str, p: dict[str, Any]) -> str | None:
    words: dict[str, Callable[[], str]] = {
        # marshmallow's own messages (workflow/field_messages.py)
        "field.required": lambda: _("Required."),
        "field.null": lambda: _("Required."),
        "field.invalid": lambda: _("Invalid value."),
        "field.type": lambda: _("Invalid type."),
        "field.unknown": lambda: _("Unknown field."),
        "boolean.invalid": lambda: _("Not a valid yes/no value."),
        "date.invalid": lambda: _("Not a valid date (use YYYY-MM-DD)."),
        "datetime.invalid": lambda: _("Not a valid date and time."),
        "integer.invalid": lambda: _("Not a whole number."),
        "number.invalid": lambda: _("Not a number."),
        "number.special": lambda: _("Not a number."),
        "number.too_large": lambda: _("The number is too large."),
        "string.invalid": lambda: _("Not text."),
        "list.invalid": lambda: _("Not a list."),
        "mapping.invalid": lambda: _("Not a valid object."),
        "email.invalid": lambda: _("Not a valid e-mail address."),
        "url.invalid": lambda: _("Not a valid URL."),
        "regexp.mismatch": lambda: _("The format is not valid."),
        "length.between": lambda: _(
            "Length must be between %(min)s and %(max)s.", min=p.get("min"), max=p.get("max")
        ),
        "length.equal": lambda: _("Length must be %(n)s.", n=p.get("equal")),
        "length.max": lambda: _("At most %(n)s characters.", n=p.get("max")),
        "length.min": lambda: _("At least %(n)s characters.", n=p.get("min")),
        "range.min": lambda: _range(p, lower=True, upper=False),
        "range.max": lambda: _range(p, lower=False, upper=True),
        "range.between": lambda: _range(p, lower=True, upper=True),
        "choice.one_of": lambda: _(
            "Choose one of: %(choices)s.",
            choices=_listed([level_label(choice_label(str(c))) for c in p.get("choices") or []]),
        ),
        # riskloop's own validators
        "field.not_empty": lambda: _("Must not be empty."),
        "field.no_nul": lambda: _("Must not contain NUL characters."),
        "field.non_negative": lambda: _("Must be 0 or more."),
        "client.money": lambda: _("Must be an amount in yuan from 0 up to 10^17."),
        "client.phone": lambda: _(
            "Use digits, optionally starting with +, e.g. 13812341234 or +86 10 8888 6666."
        ),
        "client.id_number": lambda: _("Use 6 to 32 digits or letters, e.g. 110101199003071234."),
        "client.percentage": lambda: _("Must be a percentage from 0 to 100."),
        "client.bank_account": lambda: _(
            "Use 8 to 34 digits or capital letters (spaces and hyphens are ignored)."
        ),
        "client.fields_object": lambda: _("Fill in the client's fields."),
        "client.owner_sales": lambda: _("Name an active user with the sales role."),
        "client.preset": lambda: _("Set by screening, not on creation."),
        "contract.ends_before_start": lambda: _("The contract ends before it starts."),
        "change.not_sensitive": lambda: _("Not a sensitive field."),
        "change.same_value": lambda: _("The client already has this value."),
        "change.fields": lambda: _(
            "Name one or more of %(fields)s.",
            fields=_listed([field_label(f) for f in p.get("fields") or []]),
        ),
        "alert.title_required": lambda: _("A title is required."),
        "alert.client_required": lambda: _("A client id is required."),
        "checklist.object": lambda: _("Fill in every item of the checklist."),
        "field.comment_required": lambda: _("A comment is required for this action."),
        "field.reason_required": lambda: _("A reason is required."),
        "decision.conditions_required": lambda: _("List at least one condition."),
        "checklist.item_shape": lambda: _("Give a finding, a risk grade and evidence."),
        "checklist.unknown_field": lambda: _("Unknown field %(field)s.", field=p.get("field")),
        "checklist.finding_required": lambda: _("A finding is required."),
        "checklist.finding_too_long": lambda: _(
            "The finding is longer than %(max)s characters.", max=p.get("max")
        ),
        "checklist.risk_grade": lambda: _(
            "Choose a risk grade: %(grades)s.",
            grades=_listed([level_label(g) for g in p.get("grades") or []]),
        ),
        "checklist.evidence_shape": lambda: _("Choose evidence files uploaded to this case."),
        "checklist.evidence_unknown": lambda: _(
            "Evidence not uploaded to this case: %(files)s; upload it first.",
            files=", ".join(h[:12] for h in p.get("hashes") or []),
        ),
        "checklist.item_missing": lambda: _("Missing item: give a finding and a risk grade."),
        "checklist.item_unknown": lambda: _("Unknown item."),
        "id_number.type": lambda: _("An identity number must be text."),
        "id_number.length": lambda: _(
            "A resident identity number has 18 characters, this one has %(n)s; copy it again "
            "from the identity card.",
            n=p.get("length"),
        ),
        "id_number.alphabet": lambda: _(
            "An identity number is 17 digits followed by a digit or X."
        ),
        "id_number.birth_date": lambda: _(
            "Characters 7–14 are the date of birth (YYYYMMDD) and “%(birth)s” is no date.",
            birth=p.get("birth"),
        ),
        "id_number.check": lambda: _(
            "The check character (the 18th) is “%(given)s” but the first 17 digits require "
            "“%(expected)s”; one of the digits is probably mistyped.",
            given=p.get("given"),
            expected=p.get("expected"),
        ),
        "credit_code.type": lambda: _("A credit code must be text."),
        "credit_code.length": lambda: _(
            "A unified social credit code has 18 characters, this one has %(n)s; copy it again "
            "from the business licence.",
            n=p.get("length"),
        ),
        "credit_code.lookalike": lambda: _(
            "Character %(pos)s is “%(char)s”, which credit codes never use (I, O, Z, S and V are "
            "excluded); did you mean “%(hint)s”?",
            pos=p.get("position"),
            char=p.get("char"),
            hint=p.get("hint"),
        ),
        "credit_code.alphabet": lambda: _(
            "Character %(pos)s is “%(char)s”; credit codes use only digits and the letters "
            "%(letters)s.",
            pos=p.get("position"),
            char=p.get("char"),
            letters=p.get("letters"),
        ),
        "credit_code.division": lambda: _(
            "Characters 3–8 are the administrative division code and must be digits, got "
            "“%(got)s”.",
            got=p.get("division"),
        ),
        "credit_code.check": lambda: _(
            "The check character (the 18th) is “%(given)s” but the first 17 characters require "
            "“%(expected)s”; one of the characters is probably mistyped.",
            given=p.get("given"),
            expected=p.get("expected"),
        ),
        # watch-list files (workflow/risk/screening/watchlist_files.py)
        "watchlist.nul": lambda: _("Must not contain NUL characters."),
        "watchlist.id_number": lambda: _("An ID number has 6 to 32 letters and digits."),
        "watchlist.list": lambda: _(
            "“%(got)s” is not a list; use blacklist, dishonest_debtor or sanctions.",
            got=p.get("got"),
        ),
        "watchlist.identity": lambda: _("A row needs a name, a credit code or an ID number."),
        "watchlist.name_length": lambda: _("At most 200 characters (aliases too)."),
        "watchlist.aliases": lambda: _("At most %(n)s aliases.", n=p.get("max")),
        "watchlist.not_utf8": lambda: _("Not UTF-8 text; save the file as UTF-8."),
        "watchlist.unreadable": lambda: _("This row cannot be read as CSV."),
        "watchlist.header": lambda: _(
            "The header must hold credit_code, name, list and reason (or 统一社会信用代码, 名称, "
            "名单, 原因), optionally aliases and id_number (别名, 证件号码), each once; found "
            "“%(found)s”.",
            found=p.get("found"),
        ),
        "watchlist.json": lambda: _("Not valid JSON."),
        "watchlist.json_shape": lambda: _(
            "A JSON watch list is a list of objects with the keys credit_code, name, list and "
            "reason."
        ),
    }
    say = words.get(code)
    return say() if say is not None else None
