"""Management dashboard: active clients by rating and risk level, open cases by workflow
and stage, open alerts by level and stage, SLA breaches this week, approvals done and
waiting, the week's risk events by type and its rating changes — each a chart with its
numbers. Managers, auditors and risk officers open it."""

from __future__ import annotations

import json
from typing import Any

from flask import render_template
from flask_babel import gettext as _
from sqlalchemy import func, select

from workflow.audit import reports
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance
from workflow.risk.alerts import intake as alert_service
from workflow.risk.clients.model import RATINGS, RISK_LEVELS, Client
from workflow.risk.events import portrait

from ..console import blp, current_actor
from ..database import db, runtime_of
from ..i18n import event_type_label, label, level_label, state_label

APPROVALS = ("approve",)
# The SLA figures come from the reports service, which serves auditors and managers; the
# dashboard reads them on behalf of every reader it admits.
DASHBOARD = Actor.system("dashboard")


def _chart(labels: list[str], values: list[int], colour: str = "#1d4ed8") -> str:
    # "Workflow · stage" on two lines: one long line was cut off at the chart's left edge.
    lines = [label.split(" · ") if " · " in label else label for label in labels]
    return json.dumps(
        {
            "type": "bar",
            "labels": lines,
            "horizontal": True,
            "datasets": [{"data": values, "backgroundColor": colour}],
        }
    )


@blp.get("/dashboard")
def dashboard() -> str:
    actor = current_actor()
    portrait.require_dashboard_reader(actor)
    catalog = runtime_of().catalog
    week = portrait.week_start(clock.now())
    active = Client.status == "active"  # prospects and rejected clients carry no live rating
    ratings = dict(
        db.session.execute(
            select(Client.rating, func.count()).where(active).group_by(Client.rating)
        ).all()
    )
    levels = dict(
        db.session.execute(
            select(Client.risk_level, func.count()).where(active).group_by(Client.risk_level)
        ).all()
    )
    open_cases = db.session.execute(
        select(
            WorkflowInstance.definition,
            WorkflowInstance.definition_version,
            WorkflowInstance.state,
            func.count(),
        )
        .where(WorkflowInstance.is_open.is_(True))
        .group_by(
            WorkflowInstance.definition, WorkflowInstance.definition_version, WorkflowInstance.state
        )
    ).all()
    stages: dict[str, int] = {}
    waiting = 0
    for name, version, state, count in open_cases:
        definition = catalog.get(name, version)
        key = f"{label(definition.title, name)} · {state_label(definition, state)}"
        stages[key] = stages.get(key, 0) + count
        if any(t.trigger in APPROVALS for t in definition.transitions_from(state)):
            waiting += count
    alert_definition = catalog.get(alert_service.DEFINITION)
    open_alerts = db.session.execute(
        select(alert_service.Alert.level, WorkflowInstance.state, func.count())
        .join(WorkflowInstance, WorkflowInstance.id == alert_service.Alert.instance_id)
        .where(WorkflowInstance.is_open.is_(True))
        .group_by(alert_service.Alert.level, WorkflowInstance.state)
    ).all()
    level_order = {lv: n for n, lv in enumerate(alert_service.LEVELS)}
    state_order = {st: n for n, st in enumerate(alert_definition.states)}
    alerts = [
        (f"{level_label(lv)} · {state_label(alert_definition, st)}", n)
        for lv, st, n in sorted(
            open_alerts, key=lambda r: (-level_order.get(r[0], -1), state_order.get(r[1], 99))
        )
    ]
    done = db.session.execute(
        select(func.count())
        .select_from(AuditRecord)
        .where(
            AuditRecord.kind == "transition",
            AuditRecord.trigger.in_(APPROVALS),
            AuditRecord.at >= week,
        )
    ).scalar_one()
    sla = reports.sla_report(db.session, DASHBOARD, reports.ReportFilter(since=week))
    summary = portrait.week_summary(db.session, week)
    breaches = {
        f"{label(catalog.get(r['definition']).title, r['definition'])} · "
        f"{state_label(catalog.get(r['definition']), r['stage'])}": r["breaches"]
        for r in sla
        if r["breaches"]
    }
    figures: dict[str, Any] = {
        "ratings": [(r, ratings.get(r, 0)) for r in RATINGS],
        "levels": [(level_label(lv), levels.get(lv, 0)) for lv in RISK_LEVELS],
        "stages": sorted(stages.items()),
        "alerts": alerts,
        "breaches": sorted(breaches.items()),
        "approvals": [(_("Done"), done), (_("Waiting"), waiting)],
        "events": sorted(
            ((event_type_label(k), n) for k, n in summary["events"].items()),
            key=lambda row: -row[1],
        ),
    }
    colours = {"breaches": "#b91c1c", "alerts": "#c2410c"}
    charts = {
        k: _chart([str(a) for a, _ in v], [b for _, b in v], colours.get(k, "#1d4ed8"))
        for k, v in figures.items()
    }
    return render_template(
        "dashboard.html",
        figures=figures,
        charts=charts,
        week=week,
        changes=summary["changes"],
        change_count=summary["change_count"],
    )
