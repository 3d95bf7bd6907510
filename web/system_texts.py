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
from datetime import datetime

from flask_babel import gettext as _
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.errors import NotFound
from workflow.records.models import AuditRecord, Notification, WorkflowInstance
from workflow.risk.alerts.intake import Alert
from workflow.risk.clients.model import Client
from workflow.risk.due_diligence.review import DEFINITION as DUE_DILIGENCE
from workflow.risk.due_diligence.review import PARENT_TRIGGERS
from workflow.risk.notify.digest import AlertDigest

from .database import db, runtime_of
from .i18n import choice_label, label, level_label, state_label, when

_DUE_DILIGENCE = re.compile(r"due diligence #(\d+) (\w+)")
_TIMER = re.compile(r"timer (\d+) due (\d{4}-\d{2}-\d{2}T[\d:.]+)Z")
_PERIODIC = re.compile(r"periodic review due (\d{4}-\d{2}-\d{2})")
_BATCH_IMPORT = "batch import of "
_CONTRACT = re.compile(r"Contract (.+) ends on (\d{4}-\d{2}-\d{2})", re.S)
_DIGEST = re.compile(r"预警日报 Alert digest (\d{4}-\d{2}-\d{2}): (\d+) new, (\d+) breached")
_DIGEST_LINE = re.compile(r"- \[(\w+)\] #(\d+) (.*) \(client (\d+), (\w+), case (\d+)\)")


def _outcome_label(outcome: str) -> str:
    return {"passed": _("passed"), "passed_with_conditions": _("passed with conditions"),
            "failed": _("failed")}.get(outcome, outcome)


def comment_text(record: AuditRecord) -> str:
    """The record's comment in the reader's language when the workflow wrote it."""
    comment = record.comment or ""
    payload = record.payload or {}
    if record.kind == "started" and comment:
        return _started_comment(record, comment)
    if record.kind != "transition" or not comment:
        return comment
    if record.trigger == "submit" and record.definition == "client_onboarding":
        return _batch_import(record, comment)
    if record.actor == "system:screening" and record.trigger == "screened":
        rating, decided_by = payload.get("rating"), payload.get("decided_by")
        if comment == f"rated {rating} ({decided_by})":
            by = {"rule": _("decided by the rules"),
                  "scorecard": _("decided by the scorecard")}.get(str(decided_by))
            if by:
                return _("Rated %(rating)s (%(by)s)", rating=rating, by=by)
    if record.actor == "system:due_diligence" and record.trigger in PARENT_TRIGGERS.values():
        text = _due_diligence_outcome(record, comment)
        if text:
            return text
    if record.actor == "system:onboarding" and record.trigger == "cancel" \
            and comment == "the admission was withdrawn":
        return _("The admission was withdrawn")
    if record.actor == "system:timer":
        match = _TIMER.fullmatch(comment)
        if match and _iso(match.group(2)) is not None:
            return _("Timer %(id)s due %(when)s", id=match.group(1), when=when(_iso(match.group(2))))
    return comment


def _iso(value: str) -> datetime | None:
    """The time the workflow wrote (``isoformat()``), or None when it is not that form."""
    try:
        parsed = datetime.fromisoformat(value)
    except ValueError:
        return None
    return parsed if parsed.isoformat() == value else None


def _due_diligence_outcome(record: AuditRecord, comment: str) -> str | None:
    """``due diligence #7 passed``: the parent's audit record has no structured child id or
    outcome (the parent transitions' payload schemas admit only conditions / reasons), so the
    comment names the child; the child case itself (its parent and final state) is preferred
    as the outcome. Without the child (not readable here), the trigger says which outcomes
    may stand there, so nothing else is read as one."""
    match = _DUE_DILIGENCE.fullmatch(comment)
    if not match or PARENT_TRIGGERS.get(match.group(2)) != record.trigger:
        return None
    child_id, outcome = int(match.group(1)), match.group(2)
    child = db.session.get(WorkflowInstance, child_id) if record.instance_id else None
    if child is not None:
        if child.definition != DUE_DILIGENCE or child.parent_id != record.instance_id \
                or child.state != outcome:
            return None
        outcome = child.state
    return _("Due diligence #%(id)s %(outcome)s", id=child_id, outcome=_outcome_label(outcome))


def _started_comment(record: AuditRecord, comment: str) -> str:
    if record.actor == "system:periodic_review":
        match = _PERIODIC.fullmatch(comment)
        data = (record.payload or {}).get("data") or {}
        if match and data.get("period") == match.group(1)[:7]:
            return _("Periodic review due %(date)s", date=match.group(1))
        return comment
    if record.definition == "client_onboarding":
        return _batch_import(record, comment)
    return comment


def _batch_import(record: AuditRecord, comment: str) -> str:
    """``batch import of clients.xlsx`` on an admission a person's import started (the file
    name is shown as stored)."""
    if comment.startswith(_BATCH_IMPORT) and len(comment) > len(_BATCH_IMPORT) \
            and not record.actor.startswith("system:"):
        return _("Batch import of %(file)s", file=comment[len(_BATCH_IMPORT):])
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
        self.digest_alerts: dict[int, Alert] = {}
        self.digests = self._digests(notes)
        self.contract_clients = self._contract_clients(notes)

    def _digests(self, notes: list[Notification]) -> dict[tuple[str, str], AlertDigest]:
        """The digests the page's digest notifications announce, and the alerts they list."""
        days = {(n.username, m.group(1)) for n in notes if n.event == "alert_digest"
                for m in [_DIGEST.fullmatch(n.title)] if m}
        if not days:
            return {}
        digests = {(d.username, d.day): d for d in self.session.execute(
            select(AlertDigest).where(AlertDigest.username.in_({u for u, _day in days}),
                                      AlertDigest.day.in_({day for _u, day in days}))).scalars()}
        alert_ids = {int(m.group(2)) for n in notes if n.event == "alert_digest"
                     for line in (n.body or "").split("\n") for m in [_DIGEST_LINE.fullmatch(line)] if m}
        if alert_ids:
            listed = list(self.session.execute(select(Alert).where(Alert.id.in_(alert_ids))).scalars())
            self.digest_alerts = {a.id: a for a in listed}
            case_ids = {a.instance_id for a in listed if a.instance_id} - set(self.instances)
            if case_ids:
                self.instances.update({i.id: i for i in self.session.execute(
                    select(WorkflowInstance).where(WorkflowInstance.id.in_(case_ids))).scalars()})
        return digests

    def _contract_clients(self, notes: list[Notification]) -> dict[str, list[Client]]:
        """Clients by name for the page's contract reminders (the name is the only link the
        notification keeps; ``Contract N of NAME`` may split at any `` of ``)."""
        names: set[str] = set()
        for note in notes:
            match = _CONTRACT.fullmatch(note.title) if note.event == "contract_expiring" else None
            if match:
                parts = match.group(1).split(" of ")
                names.update(" of ".join(parts[i:]) for i in range(1, len(parts)))
        by_name: dict[str, list[Client]] = {}
        if names:
            for client in self.session.execute(select(Client).where(Client.name.in_(names))).scalars():
                by_name.setdefault(client.name, []).append(client)
        return by_name

    def __call__(self, note: Notification) -> NoteText:
        stored = NoteText(note.title, note.body or "")
        if note.event == "alert_digest":
            return self._digest(stored, note)
        if note.event == "contract_expiring":
            return self._contract(stored)
        alert = self.alerts.get(note.instance_id or 0)
        instance = self.instances.get(note.instance_id or 0)
        if instance is not None and note.event == "sla_breached":
            return self._case_breached(stored, instance)
        if instance is not None and note.event == "due_diligence_due":
            return self._review_due(stored, instance)
        if alert is None or instance is None:
            return stored
        if note.event == "alert_raised":
            return self._raised(stored, alert)
        if note.event == "alert_breached":
            return self._breached(stored, alert, instance)
        return self._alert_action(stored, alert, instance)

    def _case_breached(self, stored: NoteText, instance: WorkflowInstance) -> NoteText:
        """``mark_breached``: ``SLA breached on case #n (state)`` with no body."""
        match = re.fullmatch(rf"SLA breached on case #{instance.id} \((\w+)\)", stored.title)
        definition = _definition(instance)
        if not match or stored.body or definition is None or match.group(1) not in definition.states:
            return stored
        return NoteText(_("SLA breached on case #%(id)s (%(state)s)", id=instance.id,
                          state=state_label(definition, match.group(1))), "")

    def _review_due(self, stored: NoteText, instance: WorkflowInstance) -> NoteText:
        """``open_due_review``: ``Periodic due-diligence review of NAME is due (case #n)``."""
        client = self.session.get(Client, instance.subject_id) if instance.subject_type == "client" \
            and instance.subject_id else None
        if client is None or instance.definition != DUE_DILIGENCE or stored.body or stored.title != \
                f"Periodic due-diligence review of {client.name} is due (case #{instance.id})"[:255]:
            return stored
        return NoteText(_("Periodic due-diligence review of %(client)s is due (case #%(id)s)",
                          client=client.name, id=instance.id), "")

    def _contract(self, stored: NoteText) -> NoteText:
        """``remind_contract``: ``Contract N of NAME ends on YYYY-MM-DD``, when that client
        has that contract ending that day."""
        match = _CONTRACT.fullmatch(stored.title)
        if not match or stored.body:
            return stored
        parts, end = match.group(1).split(" of "), match.group(2)
        for i in range(1, len(parts)):
            number, name = " of ".join(parts[:i]), " of ".join(parts[i:])
            for client in self.contract_clients.get(name, []):
                if stored.title != f"Contract {number} of {client.name} ends on {end}"[:255]:
                    continue
                if any(str(c.get("number")) == number and str(c.get("end") or "")[:10] == end
                       for c in client.contracts or [] if isinstance(c, dict)):
                    return NoteText(_("Contract %(number)s of %(client)s ends on %(end)s",
                                      number=number, client=client.name, end=end), "")
        return stored

    def _digest(self, stored: NoteText, note: Notification) -> NoteText:
        """``send_digests``: a bilingual title and a body listing new and breached alerts."""
        match = _DIGEST.fullmatch(stored.title)
        digest = self.digests.get((note.username, match.group(1))) if match else None
        if match is None or digest is None or (digest.new_count, digest.breached_count) != \
                (int(match.group(2)), int(match.group(3))):
            return stored
        title = _("Alert digest %(day)s: %(new)s new, %(breached)s breached", day=digest.day,
                  new=digest.new_count, breached=digest.breached_count)
        lines = stored.body.split("\n")
        headers = {"New alerts / 新预警:": _("New alerts:"), "SLA breached / 超时:": _("SLA breached:"),
                   "- none": _("- none"), "": ""}
        out = []
        for line in lines:
            if line in headers:
                out.append(headers[line])
                continue
            found = _DIGEST_LINE.fullmatch(line)
            alert = self.digest_alerts.get(int(found.group(2))) if found else None
            if found is None or alert is None or line != (
                    f"- [{alert.level}] #{alert.id} {alert.title} (client {alert.client_id}, "
                    f"{found.group(5)}, case {alert.instance_id})"):
                return NoteText(title, stored.body)
            instance = self.instances.get(alert.instance_id or 0)
            definition = _definition(instance) if instance is not None else None
            state = state_label(definition, found.group(5)) if definition is not None else found.group(5)
            out.append(_("- [%(level)s] #%(id)s %(title)s (client %(client)s, %(state)s, case "
                         "%(case)s)", level=level_label(alert.level), id=alert.id, title=alert.title,
                         client=alert.client_id, state=state, case=alert.instance_id))
        return NoteText(title, "\n".join(out))

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
        data = instance.data or {}
        level, title = str(data.get("level")), str(data.get("title", ""))
        match = re.fullmatch(r"\[(\w+)\] (\w+): (.*)", stored.title, re.S)
        if not match or match.group(1) != level or stored.title != \
                f"[{level}] {match.group(2)}: {title}"[:255]:
            return stored
        trigger = match.group(2)
        definition = _definition(instance)
        if definition is None:  # a definition no longer loaded: keep the stored text
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


def _definition(instance: WorkflowInstance):  # noqa: ANN202 - the engine's Definition
    try:
        return runtime_of().catalog.get(instance.definition, instance.definition_version)
    except NotFound:
        return None
