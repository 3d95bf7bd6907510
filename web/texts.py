"""The texts the system writes (``workflow.texts`` codes with their params), worded in the
reader's language: every page shows notifications and system comments through here.

A row written before codes existed has no code and is shown as it was stored; so is a
code this module does not know (a newer writer, say).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from flask_babel import gettext as _

from workflow import texts
from workflow.errors import NotFound
from workflow.records.models import AuditRecord, Notification

from .i18n import choice_label, label, level_label, state_label, when


def _definition(name: Any, version: Any = None) -> Any:
    """The named definition (that version when known), or None when it is not loaded."""
    from workflow.engine import runtime

    if not name:
        return None
    try:
        catalog = runtime.current().catalog
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
    return {"passed": _("passed"), "passed_with_conditions": _("passed with conditions"),
            "failed": _("failed")}.get(str(outcome), str(outcome))


def _decided_by(by: Any) -> str:
    return {"rule": _("decided by the rules"),
            "scorecard": _("decided by the scorecard")}.get(str(by), str(by))


def _stage(stage: Any) -> str:
    return {"respond": _("respond"), "rectify": _("rectify")}.get(str(stage), str(stage))


def _digest_body(p: dict[str, Any]) -> str:
    def lines(items: Any) -> list[str]:
        return [_("- [%(level)s] #%(id)s %(title)s (client %(client)s, %(state)s, case %(case)s)",
                  level=level_label(str(a.get("level"))), id=a.get("id"), title=a.get("title"),
                  client=a.get("client"), state=_state(p, a.get("state")), case=a.get("case"))
                for a in items or [] if isinstance(a, dict)] or [_("- none")]

    return "\n".join([_("New alerts:"), *lines(p.get("new")), "", _("SLA breached:"),
                      *lines(p.get("breached"))])


def _alert_action_body(p: dict[str, Any]) -> str:
    text = _("%(who)s did %(action)s on alert case #%(id)s.", who=p.get("actor"),
             action=_action(p, p.get("trigger")), id=p.get("case"))
    return f"{text} {p['comment']}" if p.get("comment") else text


# code (``workflow.texts.ENGLISH``) → its words in the reader's language.
_WORDS: dict[str, Callable[[dict[str, Any]], str]] = {
    "comment.rated": lambda p: _("Rated %(rating)s (%(by)s)", rating=p.get("rating"),
                                 by=_decided_by(p.get("decided_by"))),
    "comment.admission_withdrawn": lambda p: _("The admission was withdrawn"),
    "comment.due_diligence_outcome": lambda p: _("Due diligence #%(id)s %(outcome)s",
                                                 id=p.get("case"), outcome=_outcome(p.get("outcome"))),
    "comment.timer_due": lambda p: _("Timer %(id)s due %(when)s", id=p.get("timer"),
                                     when=when(str(p.get("due")))),
    "comment.periodic_review_due": lambda p: _("Periodic review due %(date)s", date=p.get("date")),
    "comment.batch_import": lambda p: _("Batch import of %(file)s", file=p.get("file")),
    "alert.raised": lambda p: _("[%(level)s] %(title)s", level=level_label(str(p.get("level"))),
                                title=p.get("title")),
    "alert.raised.body": lambda p: _("%(client)s: %(category)s. %(details)s", client=p.get("client"),
                                     category=choice_label(p.get("category")),
                                     details=p.get("details")).rstrip(),
    "alert.action": lambda p: _("[%(level)s] %(action)s: %(title)s",
                                level=level_label(str(p.get("level"))),
                                action=_action(p, p.get("trigger")), title=p.get("title")),
    "alert.action.body": _alert_action_body,
    "alert.breached": lambda p: _("[%(level)s] SLA to %(stage)s breached: %(title)s",
                                  level=level_label(str(p.get("level"))), stage=_stage(p.get("stage")),
                                  title=p.get("title")),
    "alert.breached.body": lambda p: _(
        "Alert #%(id)s missed its %(stage)s deadline (breach %(num)s); managers were told.",
        id=p.get("alert"), stage=_stage(p.get("stage")), num=p.get("breaches")),
    "case.sla_breached": lambda p: _("SLA breached on case #%(id)s (%(state)s)", id=p.get("case"),
                                     state=_state(p, p.get("state"))),
    "review.due": lambda p: _("Periodic due-diligence review of %(client)s is due (case #%(id)s)",
                              client=p.get("client"), id=p.get("case")),
    "contract.expiring": lambda p: _("Contract %(number)s of %(client)s ends on %(end)s",
                                     number=p.get("number"), client=p.get("client"), end=p.get("end")),
    "digest.sent": lambda p: _("Alert digest %(day)s: %(new)s new, %(breached)s breached",
                               day=p.get("day"), new=p.get("new_count"),
                               breached=p.get("breached_count")),
    "digest.sent.body": _digest_body,
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


def system_words() -> set[str]:
    """The codes worded here (a test checks they are the catalogue's)."""
    return set(_WORDS)
