"""Language and formats of the console: zh-CN by default, English selectable.

Dates are shown in ``RISKLOOP_TIMEZONE``; amounts in 元 with thousands separators.
"""

from __future__ import annotations

from datetime import datetime
from decimal import Decimal
from pathlib import Path
from typing import Any

from babel.numbers import format_decimal
from flask import Flask, current_app, request, session
from flask_babel import Babel, format_datetime, get_locale, ngettext
from flask_babel import gettext as _

from workflow.platform import clock
from workflow.risk import labels

LANGUAGES = {"zh_CN": "中文", "en": "English"}
DEFAULT = "zh_CN"
TRANSLATIONS = Path(__file__).parent / "translations"


def select_locale() -> str:
    """The language chosen in this session; zh-CN until someone picks English."""
    chosen = session.get("lang") if request else None
    return chosen if chosen in LANGUAGES else DEFAULT


def content_lang() -> str:
    """The key of YAML labels (``zh-CN``/``en``) for the current locale."""
    return "en" if str(get_locale()) == "en" else "zh-CN"


def label(value: dict[str, str] | str | None, fallback: str = "") -> str:
    if isinstance(value, dict):
        return value.get(content_lang()) or value.get("en") or value.get("zh-CN") or fallback
    return value or fallback


def amount(value: Any) -> str:
    """``1234567.5`` → ``1,234,567.50 元`` in either language."""
    if value is None or value == "":
        return "—"
    return f"{format_decimal(Decimal(str(value)), format='#,##0.00', locale=str(get_locale()))} 元"


def thousands(value: Any) -> str:
    """``10001`` → ``10,001``: a count with its thousands separators (None → —)."""
    if value is None or value == "":
        return "—"
    try:
        return f"{int(value):,}"
    except (TypeError, ValueError):
        return str(value)


def filesize(size: int | None) -> str:
    """``20971520`` → ``20 MB``; ``1536`` → ``1.5 KB`` (binary multiples, as file managers show)."""
    if size is None:
        return "—"
    value, unit = float(size), "B"
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1024 or unit == "GB":
            break
        value /= 1024
    return f"{format_decimal(round(value, 1), format='#,##0.#', locale=str(get_locale()))} {unit}"


def when(value: datetime | str | None, fmt: str = "medium") -> str:
    if value is None:
        return "—"
    if isinstance(value, str):
        value = datetime.fromisoformat(value.replace("Z", "+00:00")).replace(tzinfo=None)
    return format_datetime(value, fmt)


def countdown(due: datetime | None) -> dict[str, Any]:
    """Time left to an SLA: text and whether it is breached."""
    if due is None:
        return {"text": "—", "breached": False, "seconds": None}
    seconds = int((due - clock.now()).total_seconds())
    left = abs(seconds)
    days, rest = divmod(left, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        span = _("%(d)sd %(h)sh", d=days, h=hours)
    elif hours:
        span = _("%(h)sh %(m)sm", h=hours, m=minutes)
    else:  # the last hour counts down in seconds (console.js keeps it ticking)
        span = _("%(m)sm %(s)ss", m=minutes, s=rest % 60)
    text = _("%(span)s overdue", span=span) if seconds < 0 else _("%(span)s left", span=span)
    return {"text": text, "breached": seconds < 0, "seconds": seconds}


def countdown_formats() -> dict[str, str]:
    """The countdown's phrases for console.js, which keeps SLA countdowns ticking."""
    return {
        "left": _("%(span)s left"),
        "overdue": _("%(span)s overdue"),
        "dh": _("%(d)sd %(h)sh"),
        "hm": _("%(h)sh %(m)sm"),
        "ms": _("%(m)sm %(s)ss"),
    }


def choice_label(value: str | None) -> str:
    """Words for the coded choices of the forms (ownership, payment history, alert category)."""
    return labels.word(labels.CHOICES, value, content_lang())


def industry_label(industry: str | None) -> str:
    """A coded industry in words; an industry typed in words as typed."""
    return labels.word(labels.INDUSTRIES, industry, content_lang()) if industry else "—"


def field_label(name: str) -> str:
    """Words for a client field named in a diff or the record history."""
    return labels.word(labels.FIELDS, name, content_lang())


def config_kind_label(kind: str) -> str:
    """A kind of governed configuration, in words (a workflow definition by its title)."""
    if kind.startswith("definition:"):
        name = kind.removeprefix("definition:")
        catalog = current_app.extensions["riskloop"]["runtime"].catalog
        title = label(catalog.get(name).title, name) if name in catalog else name
        return _("Workflow definition: %(title)s", title=title)
    return labels.word(labels.CONFIG_KINDS, kind, content_lang())


def level_label(level: str) -> str:
    """An alert's level or a client's risk level."""
    return labels.word(labels.LEVELS, level, content_lang())


def match_label(key: str, value: str | None) -> str:
    """A watch-list name match's ``list``, ``match`` (path) or ``certainty``, in words."""
    table = {
        "list": labels.WATCHLISTS,
        "match": labels.NAME_MATCH_PATHS,
        "certainty": labels.MATCH_CERTAINTIES,
    }[key]
    return labels.word(table, value, content_lang()) if value else "—"


def action_label(definition: Any, state: str, trigger: str, dest: str | None = None) -> str:
    """The action's words; ``dest`` picks among transitions sharing a trigger (the first and
    the second approval of a dual approval are both ``approve``)."""
    candidates = definition.candidates(trigger, state)
    chosen = [t for t in candidates if t.dest == dest] if dest else []
    return label((chosen or candidates)[0].label, trigger) if candidates else trigger


def state_label(definition: Any, state: str | None) -> str:
    if not state or state not in definition.states:
        return state or ""
    return label(definition.states[state].label, state)


def case_state_label(definition: Any, instance: Any) -> str:
    """A case's state in words; a configuration change whose backtest failed stays in
    ``backtesting`` (by design: it cannot be published, only withdrawn) but says 回测失败
    / Backtest failed rather than 回测中 / Backtesting."""
    state = instance.state
    backtest = (instance.data or {}).get("backtest") or {}
    if instance.definition == "config_change" and state == "backtesting" and backtest.get("failed"):
        return str(_("Backtest failed"))
    return state_label(definition, state)


def who(name: str | None) -> str:
    """A person as named, or a part of the system (``system:screening``) in words."""
    if not name:
        return "—"
    if name.startswith("system:"):
        lang = content_lang()
        part = labels.word(labels.SYSTEM_ACTORS, name.split(":", 1)[1], lang)
        return f"{labels.word(labels.ROLES, 'system', lang)} · {part}"
    return name


def closed_chip(definition: Any, state: str | None, is_open: bool) -> bool:
    """Whether a closed case needs a "Closed" chip: not when its state already says so."""
    return not is_open and state_label(definition, state) != _("Closed")


def status_label(status: str | None) -> str:
    return labels.word(labels.STATUSES, status, content_lang()) if status else "—"


def event_label(kind: str) -> str:
    return labels.word(labels.EVENTS, kind, content_lang())


def event_type_label(kind: str | None) -> str:
    """A risk event's type (工商变更, 司法诉讼, …)."""
    return labels.word(labels.RISK_EVENT_TYPES, kind, content_lang())


def rating_outcome_label(outcome: str | None) -> str:
    """What became of a re-rating (applied, proposed for approval, unchanged)."""
    return labels.word(labels.RATING_OUTCOMES, outcome, content_lang())


def read_label(value: str | None) -> str:
    """Where a client record was read: the door (API, console) or the view (list, detail …)."""
    return labels.word((labels.READ_CHANNELS, labels.READ_VIEWS), value, content_lang())


def duration(seconds: float | None) -> str:
    """``93784`` → ``1d 2h`` / ``1天2小时``: how long a stage took."""
    if seconds is None:
        return "—"
    seconds = int(seconds)
    days, rest = divmod(seconds, 86400)
    hours, rest = divmod(rest, 3600)
    minutes = rest // 60
    if days:
        return _("%(d)sd %(h)sh", d=days, h=hours)
    if hours:
        return _("%(h)sh %(m)sm", h=hours, m=minutes)
    return _("%(m)sm", m=minutes) if minutes else _("%(s)ss", s=seconds)


def sla_span(value: float | str | None) -> str:
    """A length of time set in configuration (an SLA) in seconds, in whole units:
    ``864000`` → ``10 天`` / ``10 days``, ``7200`` → ``2 小时`` / ``2 hours``; None → none."""
    if value is None:
        return str(_("No SLA"))
    try:
        seconds = int(value)
    except (TypeError, ValueError):  # a report stored before SLAs were given in seconds
        return str(value)
    if seconds and seconds % 86400 == 0:
        return str(ngettext("%(num)s day", "%(num)s days", seconds // 86400))
    if seconds and seconds % 3600 == 0:
        return str(ngettext("%(num)s hour", "%(num)s hours", seconds // 3600))
    if seconds and seconds % 60 == 0:
        return str(ngettext("%(num)s minute", "%(num)s minutes", seconds // 60))
    return str(ngettext("%(num)s second", "%(num)s seconds", seconds))


def migration_reason(reason: str | None) -> str:
    """Why an open case cannot move to a new workflow version (``migration.REASONS``)."""
    words = {
        "state_removed": _("its state is not in the new version"),
        "state_final": _("its state is final in the new version"),
        "required_data_missing": _("it lacks data the new version requires"),
        "tasks_pending": _("background work of the old version has not run yet"),
    }
    return str(words[reason]) if reason in words else (reason or "—")


def install(app: Flask) -> None:
    app.config.setdefault("BABEL_DEFAULT_LOCALE", DEFAULT)
    app.config.setdefault(
        "BABEL_DEFAULT_TIMEZONE", app.config.get("RISKLOOP_TIMEZONE", "Asia/Shanghai")
    )
    app.config["BABEL_TRANSLATION_DIRECTORIES"] = str(TRANSLATIONS)
    Babel(app, locale_selector=select_locale)
    app.jinja_env.filters.update(
        amount=amount, when=when, label=label, filesize=filesize, who=who, thousands=thousands
    )
    app.jinja_env.globals.update(
        countdown=countdown,
        countdown_formats=countdown_formats,
        choice_label=choice_label,
        field_label=field_label,
        industry_label=industry_label,
        level_label=level_label,
        config_kind_label=config_kind_label,
        match_label=match_label,
        action_label=action_label,
        state_label=state_label,
        case_state_label=case_state_label,
        status_label=status_label,
        closed_chip=closed_chip,
        event_label=event_label,
        event_type_label=event_type_label,
        rating_outcome_label=rating_outcome_label,
        read_label=read_label,
        duration=duration,
        sla_span=sla_span,
        migration_reason=migration_reason,
        LANGUAGES=LANGUAGES,
        get_locale=get_locale,
        content_lang=content_lang,
    )
