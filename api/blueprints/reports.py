"""Closed-loop and SLA reports (auditors and managers), as JSON or CSV."""

from __future__ import annotations

from typing import Any

from flask import Response, stream_with_context
from flask.views import MethodView
from marshmallow import fields, validate

from workflow.audit import reports
from workflow.platform.spreadsheet import csv_lines

from ..authorization import allow
from ..extensions import db
from ..fields import Schema, UtcDateTime
from ..request_shape import Blueprint
from ..security import BEARER, current_actor, protect
from .audit import Strict

blp = protect(
    Blueprint(
        "reports",
        __name__,
        url_prefix="/api/v1/reports",
        description="Closed loops and SLA figures from the audit trail",
    )
)

LOOP_COLUMNS = (
    "id",
    "definition",
    "subject_type",
    "subject_id",
    "owner",
    "level",
    "state",
    "opened_at",
    "closed_at",
    "total_seconds",
    "breaches",
    "reopens",
    "actors",
    "stage",
    "entered_at",
    "left_at",
    "seconds",
    "stage_breached",
)


def json_or_csv(schema: str) -> dict[str, Any]:
    """OpenAPI for a 200 that is JSON, or CSV with ``format=csv``."""
    return {
        "responses": {
            "200": {
                "description": "OK",
                "content": {
                    "application/json": {"schema": {"$ref": f"#/components/schemas/{schema}"}},
                    "text/csv": {"schema": {"type": "string"}},
                },
            }
        }
    }


SLA_COLUMNS = (
    "definition",
    "stage",
    "count",
    "median_seconds",
    "p90_seconds",
    "breaches",
    "breach_rate",
)


class ReportQuery(Strict):
    since = UtcDateTime()
    until = UtcDateTime()
    definition = fields.String(validate=validate.Length(min=1, max=64))
    level = fields.String(validate=validate.Length(min=1, max=16))
    owner = fields.String(validate=validate.Length(min=1, max=64))
    format = fields.String(load_default="json", validate=validate.OneOf(["json", "csv"]))


class LoopQuery(ReportQuery):
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=200))
    cursor = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[0-9]{1,18}$"),
        metadata={"description": "next_cursor of the previous page"},
    )


class StageSchema(Schema):
    state = fields.String()
    entered_at = fields.String()
    left_at = fields.String(allow_none=True)
    seconds = fields.Float(allow_none=True)
    breached = fields.Boolean()
    breaches = fields.Integer()


class StepSchema(Schema):
    seq = fields.Integer()
    trigger = fields.String(allow_none=True)
    from_state = fields.String(allow_none=True)
    to_state = fields.String(allow_none=True)
    actor = fields.String()
    at = fields.String()
    comment = fields.String(allow_none=True)


class LoopSchema(Schema):
    id = fields.Integer()
    definition = fields.String()
    subject_type = fields.String(allow_none=True)
    subject_id = fields.Integer(allow_none=True)
    owner = fields.String(allow_none=True)
    level = fields.String(allow_none=True)
    state = fields.String()
    is_open = fields.Boolean()
    opened_at = fields.String(allow_none=True)
    closed_at = fields.String(allow_none=True)
    total_seconds = fields.Float(allow_none=True)
    breaches = fields.Integer()
    reopens = fields.Integer()
    actors = fields.List(fields.String())
    stages = fields.List(fields.Nested(StageSchema))
    steps = fields.List(fields.Nested(StepSchema))


class LoopPage(Schema):
    items = fields.List(fields.Nested(LoopSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class SlaRow(Schema):
    definition = fields.String()
    stage = fields.String()
    count = fields.Integer()
    median_seconds = fields.Float()
    p90_seconds = fields.Float()
    breaches = fields.Integer()
    breach_rate = fields.Float()


class SlaPage(Schema):
    items = fields.List(fields.Nested(SlaRow), required=True)


def _filter(query: dict[str, Any]) -> reports.ReportFilter:
    return reports.ReportFilter(
        **{k: query.get(k) for k in ("since", "until", "definition", "level", "owner")}
    ).check()


def _csv(name: str, lines: Any) -> Response:
    return Response(
        stream_with_context(line.encode("utf-8") for line in lines),
        mimetype="text/csv",
        headers={"Content-Disposition": f'attachment; filename="{name}"'},
    )


def _loop_rows(items: Any) -> Any:
    for item in items:
        base = {**item, "actors": " ".join(item["actors"])}
        for stage in item["stages"] or [{}]:
            yield {
                **base,
                "stage": stage.get("state"),
                "entered_at": stage.get("entered_at"),
                "left_at": stage.get("left_at"),
                "seconds": stage.get("seconds"),
                "stage_breached": stage.get("breached"),
            }


@blp.route("/closed-loops")
class ClosedLoops(MethodView):
    @allow(reports.require_report_reader)
    @blp.doc(security=[BEARER], **json_or_csv("LoopPage"))
    @blp.arguments(LoopQuery, location="query")
    @blp.response(200, LoopPage)
    @blp.alt_response(400, description="Unknown query parameter")
    @blp.alt_response(403, description="Neither auditor nor manager")
    def get(self, query: dict[str, Any]) -> Any:
        """Finished cases closed in the period: time per stage, breaches, reopens, who acted.

        ``format=csv`` downloads every matching case, one row per stage."""
        where = _filter(query)
        actor = current_actor()
        if query["format"] == "csv":
            loops = reports.iter_closed_loops(db.session, actor, where)
            return _csv("closed-loops.csv", csv_lines(LOOP_COLUMNS, _loop_rows(loops)))
        items, cursor = reports.closed_loops(
            db.session, actor, where, limit=query["limit"], cursor=query["cursor"]
        )
        return {"items": items, "next_cursor": cursor}


@blp.route("/sla")
class Sla(MethodView):
    @allow(reports.require_report_reader)
    @blp.doc(security=[BEARER], **json_or_csv("SlaPage"))
    @blp.arguments(ReportQuery, location="query")
    @blp.response(200, SlaPage)
    @blp.alt_response(400, description="Unknown query parameter")
    @blp.alt_response(403, description="Neither auditor nor manager")
    def get(self, query: dict[str, Any]) -> Any:
        """Per workflow and stage: count, median and 90th percentile seconds, breach rate."""
        rows = reports.sla_report(db.session, current_actor(), _filter(query))
        if query["format"] == "csv":
            return _csv("sla.csv", csv_lines(SLA_COLUMNS, rows))
        return {"items": rows}
