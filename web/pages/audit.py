"""Auditor pages: closed loops with time per stage, SLA breaches over time, chain
verification with the last checkpoint, and exports (the API's export services)."""

from __future__ import annotations

import itertools
import json
from datetime import datetime, timedelta
from typing import Any

from flask import Response, render_template, request, stream_with_context
from flask_babel import gettext as _

from workflow.audit import anchors, checkpoints, reports, verification
from workflow.audit import export as audit_export
from workflow.errors import ValidationFailed
from workflow.platform import clock
from workflow.platform.hygiene import day_problem

from ..console import blp, current_actor
from ..database import db, runtime_of

WEEKS = 8


def _day(name: str) -> datetime | None:
    value = request.args.get(name) or ""
    try:
        day = datetime.strptime(value, "%Y-%m-%d") if value else None
    except ValueError as exc:
        raise ValidationFailed(
            f"{name} must be a date (YYYY-MM-DD)", errors={name: ["Use YYYY-MM-DD."]}
        ) from exc
    if day is not None and (problem := day_problem(day.date())) is not None:
        raise ValidationFailed(f"{name}: {problem}", errors={name: [problem]})
    return day


def breaches_by_week(actor: Any, definition: str | None) -> dict[str, Any]:
    """Stages ended and breached per week, for the last ``WEEKS`` weeks (a chart's data)."""
    start_of_week = clock.now().replace(hour=0, minute=0, second=0, microsecond=0)
    start_of_week -= timedelta(days=start_of_week.weekday())
    labels, ended, breached = [], [], []
    for back in range(WEEKS - 1, -1, -1):
        since = start_of_week - timedelta(weeks=back)
        rows = reports.sla_report(
            db.session,
            actor,
            reports.ReportFilter(
                since=since, until=since + timedelta(weeks=1), definition=definition
            ),
        )
        labels.append(since.strftime("%m-%d"))
        ended.append(sum(r["count"] for r in rows))
        breached.append(sum(r["breaches"] for r in rows))
    return {"labels": labels, "ended": ended, "breached": breached}


@blp.get("/audit")
def audit() -> str:
    actor = current_actor()
    catalog = runtime_of().catalog
    definition = request.args.get("definition") or None
    where = reports.ReportFilter(since=_day("since"), until=_day("until"), definition=definition)
    loops, next_cursor = reports.closed_loops(
        db.session, actor, where, limit=50, cursor=request.args.get("cursor") or None
    )
    sla = reports.sla_report(db.session, actor, where)
    weekly = breaches_by_week(actor, definition)
    chart = {
        "type": "bar",
        "labels": weekly["labels"],
        "stacked": False,
        "datasets": [
            {"label": _("Stages ended"), "data": weekly["ended"], "backgroundColor": "#93c5fd"},
            {"label": _("Breached"), "data": weekly["breached"], "backgroundColor": "#b91c1c"},
        ],
    }
    return render_template(
        "audit.html",
        loops=loops,
        next_cursor=next_cursor,
        sla=sla,
        weekly=weekly,
        chart=json.dumps(chart),
        catalog=catalog,
        definitions=catalog.latest(),
        filters={
            "definition": definition,
            "since": request.args.get("since") or "",
            "until": request.args.get("until") or "",
        },
        last_checkpoint=checkpoints.last_checkpoint(db.session),
        can_verify=actor.has_any(frozenset({"auditor"})),
    )


@blp.post("/audit/verify")
def audit_verify() -> str:
    report = verification.verify_as(
        db.session, current_actor(), anchor=anchors.default_file(runtime_of().settings)
    )
    return render_template(
        "_verify_result.html",
        report=report.to_dict(),
        last_checkpoint=checkpoints.last_checkpoint(db.session),
    )


@blp.get("/audit/export")
def audit_export_download() -> Response:
    actor = current_actor()
    fmt = request.args.get("format", "jsonl")
    scope = audit_export.ExportScope(
        instance_id=request.args.get("instance_id", type=int),
        client_id=request.args.get("client_id", type=int),
        since=_day("since"),
        until=_day("until"),
    )
    if fmt == "csv":
        lines, mimetype = (
            audit_export.export_csv(db.session, scope, actor),
            "text/csv; charset=utf-8",
        )
    else:
        fmt = "jsonl"
        lines, mimetype = (
            audit_export.export_jsonl(db.session, scope, actor),
            "application/x-ndjson",
        )
    # The first line is produced here so a refused or invalid export is an error page,
    # not a download cut short.
    first = next(iter(lines), "")
    lines = itertools.chain([first], lines)
    name = (
        f"audit-instance-{scope.instance_id}"
        if scope.instance_id is not None
        else f"audit-client-{scope.client_id}"
        if scope.client_id is not None
        else "audit-range"
    )
    return Response(
        stream_with_context(line.encode("utf-8") for line in lines),
        mimetype=mimetype,
        headers={"Content-Disposition": f'attachment; filename="{name}.{fmt}"'},
    )
