"""SLAs by alert level: durable escalation timers whose due time depends on the level.

The engine's state SLA is one duration per state; an alert's depends on its level
(``settings.sla`` of the definition). ``alert_sla`` arms the timer of the state being
entered and sets the instance's SLA due time; the engine cancels a state's pending
timers when the instance leaves it. A due timer fires ``escalate`` (a self-loop):
``mark_breached`` marks the case and tells the managers, ``alert_breached`` records
the breach on the alert, tells the owners and arms the next escalation, so a case
still breached later escalates again.

``business_hours: true`` on a level counts only working hours (``settings.business_hours``,
default 09:00-18:00 in ``RISKLOOP_TIMEZONE``) on Chinese working days, holidays and
adjusted working weekends included (the ``chinese-calendar`` package).
"""

from __future__ import annotations

import datetime as dt
from datetime import UTC, datetime, timedelta
from typing import Any
from zoneinfo import ZoneInfo

import chinese_calendar
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow import texts
from workflow.engine import runtime
from workflow.engine.context import FireContext
from workflow.engine.registry import Registry
from workflow.platform.durations import parse_duration
from workflow.records import timers
from workflow.records.models import WorkflowInstance
from workflow.risk.alerts.model import Alert
from workflow.risk.governance.overlay import governed_settings

registry = Registry()

# Which state each SLA stage covers.
STAGE_STATE = {"respond": "warned", "rectify": "responded"}
STATE_STAGE = {v: k for k, v in STAGE_STATE.items()}
DEFAULT_SLA = {
    "black": {"respond": "4h", "rectify": "2d"},
    "red": {"respond": "24h", "rectify": "7d"},
    "yellow": {"respond": "72h", "rectify": "30d"},
}
ESCALATE = "escalate"


def is_workday(day: dt.date) -> bool:
    try:
        return bool(chinese_calendar.is_workday(day))
    except NotImplementedError:  # a year the calendar does not cover yet: Mon-Fri
        return day.weekday() < 5


def _clock_time(text: str) -> dt.time:
    hours, _, minutes = str(text).partition(":")
    return dt.time(int(hours), int(minutes or 0))


def add_business_time(
    start: datetime, span: timedelta, timezone: str, hours: dict[str, Any] | None = None
) -> datetime:
    """``start`` (naive UTC) plus ``span`` of working time; whole days are working days."""
    zone = ZoneInfo(timezone)
    opens = _clock_time((hours or {}).get("start", "09:00"))
    closes = _clock_time((hours or {}).get("end", "18:00"))
    day_length = datetime.combine(dt.date.min, closes) - datetime.combine(dt.date.min, opens)
    remaining = day_length * span.days + timedelta(seconds=span.seconds)
    cursor = start.replace(tzinfo=UTC).astimezone(zone)
    day = cursor.date()
    for _ in range(3 * 366 * 10):
        if is_workday(day):
            begin = max(cursor, datetime.combine(day, opens, zone))
            end = datetime.combine(day, closes, zone)
            if begin < end:
                if remaining <= end - begin:
                    return (begin + remaining).astimezone(UTC).replace(tzinfo=None)
                remaining -= end - begin
        day += timedelta(days=1)
        cursor = datetime.combine(day, dt.time(0), zone)
    raise ValueError("an SLA longer than ten years of working time")


def level_sla(settings: dict[str, Any], level: str) -> dict[str, Any]:
    return {
        **DEFAULT_SLA.get(level, DEFAULT_SLA["yellow"]),
        **((settings.get("sla") or {}).get(level) or {}),
    }


def due_after(
    settings: dict[str, Any],
    level: str,
    stage: str,
    start: datetime,
    key: str | None = None,
    *,
    timezone: str = "Asia/Shanghai",
) -> datetime:
    """When ``stage`` (or its ``repeat`` escalation when ``key='repeat'``) is due for ``level``."""
    sla = level_sla(settings, level)
    span = parse_duration(sla.get(key or stage) or sla[stage])
    if sla.get("business_hours"):
        return add_business_time(start, span, timezone, settings.get("business_hours"))
    return start + span


def arm_stage(
    session: Session,
    instance: WorkflowInstance,
    settings: dict[str, Any],
    stage: str,
    now: datetime,
) -> datetime:
    """Arm the escalation of ``stage`` for the instance's level; returns the due time."""
    due = due_after(
        settings,
        instance.data["level"],
        stage,
        now,
        timezone=str(runtime.of(session).setting("RISKLOOP_TIMEZONE", "Asia/Shanghai")),
    )
    timers.schedule(session, instance, STAGE_STATE[stage], ESCALATE, due)
    return due


def _settings(ctx: FireContext) -> dict[str, Any]:
    """The definition's settings with the active ``alert_routing`` version on top."""
    return governed_settings(ctx.session, "alert_routing", ctx.definition.settings)


@registry.effect("alert_sla")
def alert_sla(ctx: FireContext, stage: str) -> None:
    """Arm the level's SLA for the state this transition enters."""
    ctx.sla_due_at = arm_stage(ctx.session, ctx.instance, _settings(ctx), stage, ctx.now)
    ctx.audit["sla_due_at"] = ctx.sla_due_at.isoformat() + "Z"


@registry.effect("alert_breached")
def alert_breached(ctx: FireContext) -> None:
    """Record the breach on the alert, tell the owners and arm the next escalation."""
    stage = STATE_STAGE[ctx.from_state]
    alert = ctx.session.execute(
        select(Alert).where(Alert.instance_id == ctx.instance.id)
    ).scalar_one()
    alert.breaches += 1
    alert.last_breached_at = ctx.now
    level = ctx.instance.data["level"]
    nxt = due_after(
        _settings(ctx),
        level,
        stage,
        ctx.now,
        key="repeat",
        timezone=str(ctx.settings.get("RISKLOOP_TIMEZONE", "Asia/Shanghai")),
    )
    timers.schedule(ctx.session, ctx.instance, ctx.from_state, ESCALATE, nxt)
    ctx.audit.update({"stage": stage, "next_escalation_at": nxt.isoformat() + "Z"})
    ctx.enqueue(
        "notify",
        {
            "event": "alert_breached",
            "users": list(ctx.instance.assignees or []),
            "instance_id": ctx.instance.id,
            **texts.notification(
                "alert.breached",
                level=level,
                stage=stage,
                title=alert.title,
                alert=alert.id,
                breaches=ctx.instance.data.get("breaches", 1),
            ),
        },
    )
