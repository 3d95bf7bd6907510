"""Texts the workflow writes itself (a screening's "rated C (scorecard)", an alert's
notification), shown in the reader's language.

The workflow stores these texts in English and the API keeps them so. The console renders
them again from the structured data stored beside them (the audit record's trigger and
payload, the alert and case a notification links to) — but only when rebuilding the English
text from that data gives the stored text back, so a person's own comment or a text of a
form not known here is always shown as it was stored.
"""

from __future__ import annotations

import re
from collections.abc import Iterable
from dataclasses import dataclass

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.domain.alerts import Alert
from workflow.domain.clients import Client
from workflow.domain.due_diligence import PARENT_TRIGGERS
from workflow.errors import NotFound
from workflow.models import AuditRecord, Notification, WorkflowInstance

from .i18n import choice_label, label, level_label

_DUE_DILIGENCE = re.compile(r"due diligence #(\d+) (\w+)")


def _outcome_label(outcome: str) -> str:
    return {"passed": _("passed"), "passed_with_conditions": _("passed with conditions"),
            "failed": _("failed")}.get(outcome, outcome)


def comment_text(record: AuditRecord) -> str:
    """The record's comment in the reader's language when the workflow wrote it."""
    comment = record.comment or ""
    payload = record.payload or {}
    if record.kind != "transition" or not comment:
        return comment
    if record.actor == "system:screening" and record.trigger == "screened":
        rating, decided_by = payload.get("rating"), payload.get("decided_by")
        if comment == f"rated {rating} ({decided_by})":
            by = {"rule": _("decided by the rules"),
                  "scorecard": _("decided by the scorecard")}.get(str(decided_by))
            if by:
                return _("Rated %(rating)s (%(by)s)", rating=rating, by=by)
    if record.actor == "system:due_diligence" and record.trigger in PARENT_TRIGGERS.values():
        # The child's id and outcome live only in the comment; the trigger says which
        # outcomes may stand there, so nothing else is read as one.
        match = _DUE_DILIGENCE.fullmatch(comment)
        if match and PARENT_TRIGGERS.get(match.group(2)) == record.trigger:
            return _("Due diligence #%(id)s %(outcome)s", id=match.group(1),
                     outcome=_outcome_label(match.group(2)))
    if record.actor == "system:onboarding" and record.trigger == "cancel" \
            and comment == "the admission was withdrawn":
        return _("The admission was withdrawn")
    return comment


@dataclass
class NoteText:
    title: str
    body: str


class NotificationTexts:
    """Notifications of one page in the reader's language; their alerts and cases are read
    once for the page."""

    def __init__(self, session: Session, notes: Iterable[Notification]) -> None:
        notes = list(notes)
        ids = {n.instance_id for n in notes if n.instance_id}
        self.instances: dict[int, WorkflowInstance] = {}
        self.alerts: dict[int, Alert] = {}
        if ids:
            self.instances = {i.id: i for i in session.execute(
                select(WorkflowInstance).where(WorkflowInstance.id.in_(ids))).scalars()}
            self.alerts = {a.instance_id: a for a in session.execute(
                select(Alert).where(Alert.instance_id.in_(ids))).scalars() if a.instance_id}
        self.session = session

    def __call__(self, note: Notification) -> NoteText:
        stored = NoteText(note.title, note.body or "")
        alert = self.alerts.get(note.instance_id or 0)
        instance = self.instances.get(note.instance_id or 0)
        if alert is None or instance is None:
            return stored
        if note.event == "alert_raised":
            return self._raised(stored, alert)
        if note.event == "alert_breached":
            return self._breached(stored, alert, instance)
        return self._alert_action(stored, alert, instance)

    def _raised(self, stored: NoteText, alert: Alert) -> NoteText:
        if stored.title != f"[{alert.level}] {alert.title}"[:255]:
            return stored
        title = _("[%(level)s] %(title)s", level=level_label(alert.level), title=alert.title)
        body = stored.body
        client = self.session.get(Client, alert.client_id)
        if client is not None and body == f"{client.name}: {alert.category}. {alert.details}"[:4000]:
            body = _("%(client)s: %(category)s. %(details)s", client=client.name,
                     category=choice_label(alert.category), details=alert.details).rstrip()
        return NoteText(title, body)

    def _breached(self, stored: NoteText, alert: Alert, instance: WorkflowInstance) -> NoteText:
        match = re.fullmatch(r"\[(\w+)\] SLA to (\w+) breached: (.*)", stored.title, re.S)
        level = str((instance.data or {}).get("level"))
        if not match or match.group(1) != level or stored.title != \
                f"[{level}] SLA to {match.group(2)} breached: {alert.title}"[:255]:
            return stored
        stage = _stage_label(match.group(2))
        title = _("[%(level)s] SLA to %(stage)s breached: %(title)s", level=level_label(level),
                  stage=stage, title=alert.title)
        body = stored.body
        found = re.fullmatch(rf"Alert #{alert.id} missed its {re.escape(match.group(2))} deadline "
                             r"\(breach (\d+)\); managers were told\.", body)
        if found:
            body = _("Alert #%(id)s missed its %(stage)s deadline (breach %(num)s); managers were "
                     "told.", id=alert.id, stage=stage, num=found.group(1))
        return NoteText(title, body)

    def _alert_action(self, stored: NoteText, alert: Alert, instance: WorkflowInstance) -> NoteText:
        """``alert_notify``: ``[level] trigger: title`` and ``who did trigger on alert case #n.``"""
        from workflow import runtime

        data = instance.data or {}
        level, title = str(data.get("level")), str(data.get("title", ""))
        match = re.fullmatch(r"\[(\w+)\] (\w+): (.*)", stored.title, re.S)
        if not match or match.group(1) != level or stored.title != \
                f"[{level}] {match.group(2)}: {title}"[:255]:
            return stored
        trigger = match.group(2)
        try:
            definition = runtime.current().catalog.get(instance.definition, instance.definition_version)
        except NotFound:  # a definition no longer loaded: keep the stored text
            return stored
        labels = [t.label for t in definition.transitions if t.trigger == trigger]
        if not labels:
            return stored
        action = label(labels[0], trigger)
        new_title = _("[%(level)s] %(action)s: %(title)s", level=level_label(level), action=action,
                      title=title)
        body = stored.body
        found = re.fullmatch(rf"(\S+) did {trigger} on alert case #{instance.id}\.(?: (.*))?",
                             body, re.S)
        if found:
            body = _("%(who)s did %(action)s on alert case #%(id)s.", who=found.group(1),
                     action=action, id=instance.id)
            if found.group(2):
                body = f"{body} {found.group(2)}"
        return NoteText(new_title, body)


def _stage_label(stage: str) -> str:
    return {"respond": _("respond"), "rectify": _("rectify")}.get(stage, stage)
