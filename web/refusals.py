"""The engine's refusals and field messages in the reader's language.

``workflow`` speaks English (``detail`` for API clients). The refusals a console
user meets most carry a stable ``code`` and ``params`` (:class:`workflow.errors.Message`
and ``RiskloopError.code``); they are worded here per code. Field messages without a
code are marshmallow's defaults or fixed sentences of the validators, worded by
their English text. Anything else gets a sentence for its error class, with the
engine's own words beside it in small print, so nothing is hidden.
"""

from __future__ import annotations

import re
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _
from markupsafe import Markup, escape

from workflow import errors as e

from .i18n import choice_label, field_label, label, level_label, status_label
from .navigation import role_label


@dataclass(frozen=True)
class Refusal:
    """What the page says about a refused request; renders itself in templates."""

    text: str
    original: str | None = None  # the engine's English detail, when no code was known

    def __str__(self) -> str:
        return self.text

    def __html__(self) -> str:
        if not self.original:
            return str(escape(self.text))
        return str(Markup('{} <small class="original" lang="en">{}</small>').format(
            self.text, self.original))


def _action(definition: Any, trigger: str | None) -> str:
    if definition is None or not trigger:
        return trigger or ""
    transitions = definition.by_trigger.get(trigger) or []
    return label(transitions[0].label, trigger) if transitions else trigger


def _state(definition: Any, state: str | None) -> str:
    if definition is None or not state or state not in definition.states:
        return state or ""
    return label(definition.states[state].label, state)


def _listed(words: list[str]) -> str:
    return _(", ").join(words)


_DATA_USERS = {"first_approver": lambda: _("first approver"), "analyst": lambda: _("analyst")}


def _coded(code: str, p: dict[str, Any], definition: Any) -> str | None:
    """The sentence for ``code`` with its parameters, or None for an unknown code."""
    action = _action(definition, p.get("trigger"))
    words: dict[str, Callable[[], str]] = {
        "instance.version_conflict": lambda: _("Someone acted first — reload."),
        "client.version_conflict": lambda: _("Someone edited this client first — reload."),
        "instance.not_found": lambda: _("Case #%(id)s does not exist, or you cannot see it.",
                                        id=p.get("id")),
        "action.illegal_state": lambda: _(
            "“%(action)s” cannot be done while the case is at “%(state)s”; reload to see "
            "what is possible now.", action=action, state=_state(definition, p.get("state"))),
        "action.role": lambda: _("“%(action)s” needs one of the roles: %(roles)s.", action=action,
                                 roles=_listed([role_label(r) for r in p.get("roles") or []])),
        "action.condition": lambda: _("“%(action)s” is not possible with this case's data.",
                                      action=action),
        "action.invalid": lambda: _("Some input of “%(action)s” is invalid; see the fields below.",
                                    action=action),
        "sod.initiator": lambda: _("Segregation of duties: the person who started this case "
                                   "may not decide it."),
        "sod.repeat_actor": lambda: _(
            "Segregation of duties: you already did “%(actions)s” on this case; another person "
            "must do this step.",
            actions=_listed([_action(definition, t) for t in p.get("triggers") or []])),
        "sod.data_user": lambda: _(
            "Segregation of duties: you are this case's %(part)s; another person must do this "
            "step.", part=_DATA_USERS.get(str(p.get("key")), lambda: str(p.get("key")))()),
        "sod.no_roles": lambda: _(
            "Segregation of duties: a user holding the role %(roles)s may not do this step, "
            "even with another role; ask an approver without it.",
            roles=_listed([role_label(r) for r in p.get("roles") or []])),
        "sod.analyst": lambda: _(
            "Segregation of duties: you submitted this review as the analyst and may not "
            "decide it; another risk officer or a manager must."),
        "guard.assignee_only": lambda: _("This case is assigned to someone else."),
        "guard.initiator_only": lambda: _("Only %(user)s, who started this case, may do this step.",
                                          user=p.get("initiator")),
        "guard.client_owner": lambda: _("Only the client's owner may do this."),
        "client.owner": lambda: _("Client #%(id)s is owned by another sales user.",
                                  id=p.get("client_id")),
        "client.duplicate_credit_code": lambda: _(
            "A client with credit code %(code)s already exists (client #%(id)s); open that "
            "record instead of creating a second one.",
            code=p.get("credit_code"), id=p.get("client_id")),
        "admission.role": lambda: _("Only sales users submit clients for admission."),
        "admission.running": lambda: _(
            "Client #%(client)s already has an admission running (case #%(case)s); act on that "
            "case or withdraw it first.", client=p.get("client_id"), case=p.get("case_id")),
        "admission.status": lambda: _(
            "Client #%(client)s is %(status)s; only prospects and rejected clients can be "
            "submitted for admission.",
            client=p.get("client_id"), status=status_label(p.get("status"))),
        "change.open_request": lambda: _(
            "Change request #%(case)s is still open for %(fields)s; wait for its decision or "
            "ask its requester to cancel it.",
            case=p.get("case_id"), fields=_listed([field_label(f) for f in p.get("fields") or []])),
        "evidence.role": lambda: _("Evidence files of this case are uploaded by: %(roles)s.",
                                   roles=_listed([role_label(r) for r in p.get("roles") or []])),
        "evidence.closed": lambda: _(
            "Evidence is added while the case is at %(states)s; it is now at “%(state)s”.",
            states=_listed([f"“{_state(definition, s)}”" for s in p.get("states") or []]),
            state=_state(definition, p.get("state"))),
        "race": lambda: _("Someone else changed the same record at the same moment; try again."),
    }
    say = words.get(code)
    return say() if say is not None else None


def _generic(exc: e.RiskloopError) -> str:
    """One sentence per error class, most specific first."""
    for cls, say in (
        (e.VersionConflict, lambda: _("Someone acted first — reload.")),
        (e.IllegalState, lambda: _("This action is not possible at the case's current step.")),
        (e.UnknownAction, lambda: _("This case has no such action.")),
        (e.Duplicate, lambda: _("This already exists.")),
        (e.IdempotencyMismatch, lambda: _("This form was already sent for another action; "
                                          "reload the page.")),
        (e.Conflict, lambda: _("The record changed or is in a state that does not allow this; "
                               "reload the page.")),
        (e.Forbidden, lambda: _("You may not do this.")),
        (e.NotFound, lambda: _("The record does not exist, or you cannot see it.")),
        (e.ConditionNotMet, lambda: _("This action is not possible with this case's data.")),
        (e.ValidationFailed, lambda: _("Some input is invalid.")),
        (e.Unprocessable, lambda: _("The request cannot be processed.")),
        (e.PayloadTooLarge, lambda: _("The upload is too large.")),
        (e.UnsupportedMediaType, lambda: _("This type of file is not accepted.")),
        (e.ServiceUnavailable, lambda: _("The service is busy; try again in a moment.")),
        (e.AuthenticationFailed, lambda: _("Please sign in.")),
    ):
        if isinstance(exc, cls):
            return say()
    return _("The request could not be completed.")


def refusal(exc: e.RiskloopError, definition: Any = None) -> Refusal:
    """``exc`` in the reader's language; ``definition`` words actions and states."""
    if exc.code:
        text = _coded(exc.code, exc.params, definition)
        if text is not None:
            return Refusal(text)
    if isinstance(exc, e.ValidationFailed) and exc.extra.get("errors"):
        return Refusal(_("Some input is invalid."))  # each field says what is wrong with it
    return Refusal(_generic(exc), exc.detail)


# Field messages ----------------------------------------------------------------------

def _fixed() -> dict[str, str]:
    """Field messages worded without parameters: marshmallow's defaults and the
    fixed sentences of riskloop's validators, keyed by their English text."""
    return {
        # marshmallow
        "Missing data for required field.": _("Required."),
        "Field may not be null.": _("Required."),
        "Invalid value.": _("Invalid value."),
        "Invalid input.": _("Invalid input."),
        "Invalid type.": _("Invalid type."),
        "Invalid input type.": _("Invalid type."),
        "Unknown field.": _("Unknown field."),
        "Not a valid boolean.": _("Not a valid yes/no value."),
        "Not a valid date.": _("Not a valid date (use YYYY-MM-DD)."),
        "Not a valid datetime.": _("Not a valid date and time."),
        "Not a valid integer.": _("Not a whole number."),
        "Not a valid number.": _("Not a number."),
        "Number too large.": _("The number is too large."),
        "Not a valid string.": _("Not text."),
        "Not a valid list.": _("Not a list."),
        "Not a valid mapping type.": _("Not a valid object."),
        "Not a valid email address.": _("Not a valid e-mail address."),
        "Not a valid URL.": _("Not a valid URL."),
        "Special numeric values (nan or infinity) are not permitted.": _("Not a number."),
        "String does not match expected pattern.": _("The format is not valid."),
        # riskloop's validators
        "Must not be empty.": _("Must not be empty."),
        "Must be an amount in yuan from 0 up to 10^17.": _("Must be an amount in yuan from 0 up to 10^17."),
        "Use digits, optionally starting with +, e.g. 13812341234 or +86 10 8888 6666.":
            _("Use digits, optionally starting with +, e.g. 13812341234 or +86 10 8888 6666."),
        "Must be 0 or more.": _("Must be 0 or more."),
        "The contract ends before it starts.": _("The contract ends before it starts."),
        "Use 6 to 32 digits or letters, e.g. 110101199003071234.":
            _("Use 6 to 32 digits or letters, e.g. 110101199003071234."),
        "Must be a percentage from 0 to 100.": _("Must be a percentage from 0 to 100."),
        "Use 8 to 34 digits or capital letters (spaces and hyphens are ignored).":
            _("Use 8 to 34 digits or capital letters (spaces and hyphens are ignored)."),
        "Send an object of client fields.": _("Fill in the client's fields."),
        "Not a sensitive field.": _("Not a sensitive field."),
        "Name an active user with the sales role.": _("Name an active user with the sales role."),
        "Set by screening, not on creation.": _("Set by screening, not on creation."),
        "The client already has this value.": _("The client already has this value."),
        "A title is required.": _("A title is required."),
        "A client id is required.": _("A client id is required."),
        "Send an object keyed by item.": _("Fill in every item of the checklist."),
    }


def _ops(min_op: str | None, max_op: str | None, lo: str | None, hi: str | None) -> str:
    ge = {"greater than or equal to": ">=", "greater than": ">"}
    le = {"less than or equal to": "<=", "less than": "<"}
    parts = []
    if min_op:
        parts.append(_("at least %(n)s", n=lo) if ge[min_op] == ">=" else _("more than %(n)s", n=lo))
    if max_op:
        parts.append(_("at most %(n)s", n=hi) if le[max_op] == "<=" else _("less than %(n)s", n=hi))
    return _("Must be %(range)s.", range=_(" and ").join(parts))


def _choices(listed: str) -> str:
    words = [choice_label(c) for c in listed.split(", ")]
    return _listed([level_label(w) for w in words])  # codes neither knows stay as they are


_OP = r"(greater than or equal to|greater than|less than or equal to|less than)"
_TEMPLATES: list[tuple[re.Pattern[str], Callable[[re.Match[str]], str]]] = [
    (re.compile(r"^Length must be between (\S+) and (\S+)\.$"),
     lambda m: _("Length must be between %(min)s and %(max)s.", min=m[1], max=m[2])),
    (re.compile(r"^Length must be (\S+)\.$"), lambda m: _("Length must be %(n)s.", n=m[1])),
    (re.compile(r"^Longer than maximum length (\S+)\.$"),
     lambda m: _("At most %(n)s characters.", n=m[1])),
    (re.compile(r"^Shorter than minimum length (\S+)\.$"),
     lambda m: _("At least %(n)s characters.", n=m[1])),
    (re.compile(r"^Must be one of: (.*)\.$"), lambda m: _("Choose one of: %(choices)s.",
                                                              choices=_choices(m[1]))),
    (re.compile(r"^Use one of (.*)\.$"), lambda m: _("Choose one of: %(choices)s.",
                                                      choices=_choices(m[1]))),
    (re.compile(rf"^Must be {_OP} (\S+) and {_OP} (\S+)\.$"),
     lambda m: _ops(m[1], m[3], m[2], m[4])),
    (re.compile(rf"^Must be {_OP} (\S+)\.$"),
     lambda m: _ops(m[1], None, m[2], None) if m[1].startswith("greater")
     else _ops(None, m[1], None, m[2])),
    (re.compile(r"^Name one or more of (.*)\.$"),
     lambda m: _("Name one or more of %(fields)s.",
                 fields=_listed([field_label(f) for f in m[1].split(", ")]))),
    (re.compile(r"^Not a sensitive field: .*$"), lambda m: _("Not a sensitive field.")),
]


def _coded_field(code: str, p: dict[str, Any]) -> str | None:
    words: dict[str, Callable[[], str]] = {
        "field.comment_required": lambda: _("A comment is required for this action."),
        "field.reason_required": lambda: _("A reason is required."),
        "decision.conditions_required": lambda: _("List at least one condition."),
        "checklist.item_shape": lambda: _("Give a finding, a risk grade and evidence."),
        "checklist.unknown_field": lambda: _("Unknown field %(field)s.", field=p.get("field")),
        "checklist.finding_required": lambda: _("A finding is required."),
        "checklist.finding_too_long": lambda: _("The finding is longer than %(max)s characters.",
                                                max=p.get("max")),
        "checklist.risk_grade": lambda: _(
            "Choose a risk grade: %(grades)s.",
            grades=_listed([level_label(g) for g in p.get("grades") or []])),
        "checklist.evidence_shape": lambda: _("Choose evidence files uploaded to this case."),
        "checklist.evidence_unknown": lambda: _(
            "Evidence not uploaded to this case: %(files)s; upload it first.",
            files=", ".join(h[:12] for h in p.get("hashes") or [])),
        "checklist.item_missing": lambda: _("Missing item: give a finding and a risk grade."),
        "checklist.item_unknown": lambda: _("Unknown item."),
        "credit_code.type": lambda: _("A credit code must be text."),
        "credit_code.length": lambda: _(
            "A unified social credit code has 18 characters, this one has %(n)s; copy it again "
            "from the business licence.", n=p.get("length")),
        "credit_code.lookalike": lambda: _(
            "Character %(pos)s is “%(char)s”, which credit codes never use (I, O, Z, S and V are "
            "excluded); did you mean “%(hint)s”?",
            pos=p.get("position"), char=p.get("char"), hint=p.get("hint")),
        "credit_code.alphabet": lambda: _(
            "Character %(pos)s is “%(char)s”; credit codes use only digits and the letters "
            "%(letters)s.", pos=p.get("position"), char=p.get("char"), letters=p.get("letters")),
        "credit_code.division": lambda: _(
            "Characters 3–8 are the administrative division code and must be digits, got "
            "“%(got)s”.", got=p.get("division")),
        "credit_code.check": lambda: _(
            "The check character (the 18th) is “%(given)s” but the first 17 characters require "
            "“%(expected)s”; one of the characters is probably mistyped.",
            given=p.get("given"), expected=p.get("expected")),
    }
    say = words.get(code)
    return say() if say is not None else None


def field_message(message: Any) -> str:
    """One field message in the reader's language (unknown ones stay as they are)."""
    code = getattr(message, "code", None)
    if code:
        text = _coded_field(code, getattr(message, "params", {}) or {})
        if text is not None:
            return text
    text = str(message)
    fixed = _fixed().get(text)
    if fixed is not None:
        return fixed
    for pattern, say in _TEMPLATES:
        match = pattern.match(text)
        if match:
            return say(match)
    return text


def field_messages(errors: Any) -> Any:
    """The same nesting as the engine's ``errors`` (field → messages, or item → …),
    every message in the reader's language."""
    if isinstance(errors, dict):
        return {key: field_messages(value) for key, value in errors.items()}
    if isinstance(errors, list | tuple):
        return [field_messages(value) for value in errors]
    if isinstance(errors, str):
        return field_message(errors)
    return errors
