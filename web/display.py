"""How cases read on a page: the client a case is about by name, case data with worded keys
and readable values (no JSON with escaped Chinese), risk indicators in the reader's language."""

from __future__ import annotations

import re
from datetime import datetime
from typing import Any

from flask import Flask, g
from flask_babel import gettext as _
from sqlalchemy import select

from workflow.risk import labels
from workflow.risk.clients.model import Client

from .database import db, runtime_of
from .i18n import (
    amount,
    choice_label,
    config_kind_label,
    content_lang,
    field_label,
    industry_label,
    label,
    level_label,
    status_label,
    when,
    who,
)

ISO_TIME = re.compile(r"^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}")
# A reason stored in both languages by screening: "中文 / English".
BILINGUAL = re.compile(r"^(?P<zh>.*[\u3400-\u9fff].*?) / (?P<en>[^\u3400-\u9fff]+)$")
LEVEL_KEYS = ("level", "risk", "overall_risk", "risk_level")
MONEY_KEYS = ("amount", "credit_limit", "registered_capital")


def prefetch_subject_names(instances: list[Any]) -> None:
    """Load the client names of a page of cases in one query (for :func:`subject_name`)."""
    names: dict[int, str | None] = g.setdefault("client_names", {})
    wanted = {
        int(i.subject_id)
        for i in instances
        if i.subject_type == "client"
        and i.subject_id
        and not (i.data or {}).get("client_name")
        and int(i.subject_id) not in names
    }
    if wanted:
        found = dict(
            db.session.execute(select(Client.id, Client.name).where(Client.id.in_(wanted))).all()
        )
        names.update({client_id: found.get(client_id) for client_id in wanted})


def subject_name(instance: Any) -> str:
    """The client's name for a case about a client (cached per request), else its title."""
    data = instance.data or {}
    if data.get("client_name"):
        return str(data["client_name"])
    if instance.subject_type == "client" and instance.subject_id:
        names: dict[int, str | None] = g.setdefault("client_names", {})
        client_id = int(instance.subject_id)
        if client_id not in names:
            names[client_id] = db.session.execute(
                select(Client.name).where(Client.id == client_id)
            ).scalar_one_or_none()
        if names[client_id]:
            return str(names[client_id])
        return _("Client #%(id)s", id=client_id)
    if data.get("title"):
        return str(data["title"])
    if instance.subject_type == "config" and data.get("kind"):  # a configuration change
        return _(
            "%(kind)s, version %(version)s",
            kind=config_kind_label(str(data["kind"])),
            version=data.get("version", "?"),
        )
    return f"{instance.subject_type or ''} {instance.subject_id or ''}".strip()


def data_label(key: str, definition: Any = None) -> str:
    """Words for a key of a case's data (client fields through :func:`field_label`, a
    checklist item through its definition's ``settings.checklist``)."""
    checklist = ((getattr(definition, "settings", None) or {}).get("checklist")) or {}
    if key in checklist:
        return label(checklist[key], key.replace("_", " "))
    words = {
        "client_id": _("Client"),
        "client_name": _("Client name"),
        "reason": _("Reason"),
        "collector": _("Analyst"),
        "returned_for_info": _("Returned for information"),
        "approvals": _("Approvals"),
        "level": _("Level"),
        "category": _("Category"),
        "title": _("Title"),
        "assessment": _("Assessment"),
        "plan": _("Plan"),
        "evidence": _("Evidence"),
        "checklist": _("Checklist"),
        "conditions": _("Conditions"),
        "outcome": _("Outcome"),
        "by": _("By"),
        "at": _("At"),
        "comment": _("Comment"),
        "roles": _("Roles"),
        "source": _("Source"),
        "external_id": _("External id"),
        "owner": _("Owner"),
        "due_diligence_id": _("Due diligence case"),
        "attachments": _("Attachments"),
        "finding": _("Finding"),
        "risk": _("Risk"),
        "files": _("Files"),
        "description": _("Description"),
        "onboarding": _("Admission"),
        "due_diligence_outcome": _("Due diligence outcome"),
        "first_approver": _("First approver"),
        "second_approver": _("Second approver"),
        "periodic_review_due": _("Periodic review due"),
        "requested_by": _("Requested by"),
        "decided_by": _("Decided by"),
        "rejection_reasons": _("Rejection reasons"),
        "reasons": _("Reasons"),
        "status_before_suspension": _("Status before suspension"),
        "alert_id": _("Alert number"),
        "response": _("Response"),
        "rectification": _("Rectification"),
        "review": _("Review"),
        "dismissal": _("Dismissal"),
        "analyst": _("Analyst"),
        "overall_risk": _("Overall risk"),
        "decision": _("Decision"),
        "reopens": _("Reopened"),
        "last_reopen": _("Last reopened"),
        "period": _("Period"),
        "breaches": _("SLA breaches"),
        "contract": _("Contract"),
        "number": _("Number"),
        "amount": _("Amount"),
        "court": _("Court"),
        "case_number": _("Case number"),
        "end": _("End"),
        "kind": _("Kind"),
        "shipped_from": _("Shipped in file"),
    }
    return str(words[key]) if key in words else field_label(key).replace("_", " ")


def plain_value(key: str, value: Any) -> str:
    """A scalar of case data as a reader wants it: times in their zone, codes worded."""
    if value is None:
        return "—"
    if isinstance(value, bool):
        return _("Yes") if value else _("No")
    if isinstance(value, str):
        if ISO_TIME.match(value):
            try:
                return when(datetime.fromisoformat(value.replace("Z", "+00:00")))
            except ValueError:
                return value
        return _plain_text(key, value)
    if key in MONEY_KEYS and isinstance(value, int | float):
        return amount(value)
    return str(value)


def _plain_text(key: str, value: str) -> str:
    lang = content_lang()
    if value.startswith("system:"):
        return who(value)
    if key in LEVEL_KEYS:
        return level_label(value)
    if key == "reason" and value == "onboarding":
        return str(_("Admission"))
    if key in ("status", "status_before_suspension"):
        return status_label(value)
    if key == "industry":
        return industry_label(value)
    if key in ("outcome", "due_diligence_outcome"):
        return labels.word(labels.REVIEW_OUTCOMES, value, lang)
    if key == "decided_by":
        return labels.word(labels.DECIDED_BY, value, lang)
    if key == "comment":
        return str(g.get("worded_comments", {}).get(value, value))
    if key in MONEY_KEYS and re.fullmatch(r"-?\d+(\.\d+)?", value):
        return amount(value)
    if found := BILINGUAL.match(value):
        return found["en"] if lang == "en" else found["zh"]
    return choice_label(value)


def is_mapping(value: Any) -> bool:
    return isinstance(value, dict)


def is_list(value: Any) -> bool:
    return isinstance(value, list | tuple)


def indicator_label(name: str) -> str:
    words = {
        "registered_capital": _("Registered capital"),
        "years_in_business": _("Years in business"),
        "litigation_count": _("Litigation cases"),
        "negative_news_count": _("Negative news items"),
        "payment_history": _("Payment history"),
        "state_ownership_pct": _("State-owned share"),
    }
    return str(words.get(name, name.replace("_", " ")))


def indicator_value(name: str, value: Any) -> str:
    if isinstance(value, float):
        if name == "registered_capital":
            return amount(value)
        return f"{value:,.2f}".rstrip("0").rstrip(".") if value != int(value) else f"{int(value):,}"
    if isinstance(value, str):
        return choice_label(value)
    return "—" if value is None else str(value)


def indicator_share(contribution: dict[str, Any]) -> float:
    """How much of its full marks an indicator earned, 0–100 (its bar's length): its score
    out of 100, or its contribution out of 100 × its weight."""
    score, weight = contribution.get("score"), contribution.get("weight")
    if score is None and weight:
        score = float(contribution.get("contribution") or 0) / float(weight)
    return round(min(abs(float(score or 0)), 100.0), 1)


def history_value(field: str, value: Any) -> str:
    """A value in a client's record history (an audit diff) worded for reading: statuses,
    levels and choices in words, money in 元, contacts and facts as text, never a repr."""
    leaf = field.rsplit(".", 1)[-1]
    if value is None:
        return ""
    if leaf == "status" or leaf == "status_before_suspension":
        return status_label(value)
    if leaf == "risk_level":
        return level_label(value)
    if leaf in ("registered_capital", "credit_limit"):
        return amount(value)
    if leaf == "industry":
        return industry_label(value)
    if leaf == "facts" and isinstance(value, dict):
        return "; ".join(f"{indicator_label(k)}: {indicator_value(k, v)}" for k, v in value.items())
    if isinstance(value, dict):  # a contact or a contract; PostgreSQL's JSON sorts the keys
        order = {k: n for n, k in enumerate(("name", "number", "phone", "email", "amount"))}
        keys = sorted(value, key=lambda k: (order.get(k, len(order)), k))
        return " · ".join(str(value[k]) for k in keys if value[k] not in (None, ""))
    if isinstance(value, list):
        return "; ".join(history_value(leaf, v) for v in value)
    return plain_value(leaf, value)


def case_definition(instance: Any) -> Any:
    return runtime_of().catalog.get(instance.definition, instance.definition_version)


def install(app: Flask) -> None:
    app.jinja_env.globals.update(
        subject_name=subject_name,
        data_label=data_label,
        plain_value=plain_value,
        case_definition=case_definition,
        is_mapping=is_mapping,
        is_list=is_list,
        indicator_label=indicator_label,
        history_value=history_value,
        indicator_value=indicator_value,
        indicator_share=indicator_share,
    )
