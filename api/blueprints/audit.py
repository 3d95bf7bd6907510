"""Auditor views: search the trail, verify it, export it with its chain proof."""

from __future__ import annotations

from functools import partial
from typing import Any

from flask import Response, stream_with_context
from flask.views import MethodView
from marshmallow import RAISE, fields, validate

from workflow.audit import anchors, verification
from workflow.audit import export as audit_export
from workflow.audit import search as audit_search
from workflow.audit.search import require_auditor
from workflow.platform.transaction import transact
from workflow.risk.privacy import reads as client_reads

from ..authorization import allow
from ..extensions import db, runtime_of
from ..fields import Schema, UtcDateTime
from ..request_shape import Blueprint
from ..schemas import AuditRecordSchema
from ..security import BEARER, current_actor, protect

blp = protect(
    Blueprint(
        "audit", __name__, url_prefix="/api/v1/audit", description="The audit trail (auditors only)"
    )
)


class Strict(Schema):
    class Meta:
        unknown = RAISE


class TimePage(Strict):
    """The time window and keyset paging shared by the audit searches."""

    since = UtcDateTime()
    until = UtcDateTime()
    limit = fields.Integer(load_default=50, validate=validate.Range(min=1, max=500))
    cursor = fields.String(
        load_default=None,
        validate=validate.Regexp(r"^[0-9]{1,18}$"),
        metadata={"description": "next_cursor of the previous page"},
    )


class AuditQuery(TimePage):
    stream = fields.String(validate=validate.Length(min=1, max=96))
    instance_id = fields.Integer(validate=validate.Range(min=1, max=2**62))
    client_id = fields.Integer(validate=validate.Range(min=1, max=2**62))
    actor = fields.String(validate=validate.Length(min=1, max=96))
    trigger = fields.String(validate=validate.Length(min=1, max=64))
    kind = fields.String(validate=validate.Length(min=1, max=48))


class AuditSearchPage(Schema):
    items = fields.List(fields.Nested(AuditRecordSchema), required=True)
    next_cursor = fields.String(allow_none=True)


class BreakSchema(Schema):
    stream = fields.String()
    seq = fields.Integer()
    record_id = fields.Integer(allow_none=True)
    reason = fields.String()


class VerifyReportSchema(Schema):
    ok = fields.Boolean(required=True)
    records = fields.Integer()
    streams = fields.Integer()
    checkpoints = fields.Integer()
    replayed = fields.Integer()
    first_break = fields.Nested(BreakSchema, allow_none=True)
    warnings = fields.List(
        fields.String(),
        metadata={
            "description": "what weakens the proof without breaking it: no checkpoint, a late one, "
            "no anchor file compared"
        },
    )


class ExportQuery(Strict):
    format = fields.String(load_default="jsonl", validate=validate.OneOf(["jsonl", "csv"]))
    instance_id = fields.Integer(validate=validate.Range(min=1, max=2**62))
    client_id = fields.Integer(validate=validate.Range(min=1, max=2**62))
    since = UtcDateTime()
    until = UtcDateTime()


@blp.route("")
class AuditSearch(MethodView):
    @allow(partial(require_auditor, what="searching the audit trail"))
    @blp.doc(security=[BEARER])
    @blp.arguments(AuditQuery, location="query")
    @blp.response(200, AuditSearchPage)
    @blp.alt_response(400, description="Unknown query parameter")
    @blp.alt_response(403, description="Not an auditor")
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Records matching every filter, oldest first (cursor pagination, stable by id)."""
        limit, cursor = query.pop("limit"), query.pop("cursor")
        items, next_cursor = audit_search.search(
            db.session,
            current_actor(),
            audit_search.AuditFilter(**query),
            limit=limit,
            cursor=cursor,
        )
        return {"items": items, "next_cursor": next_cursor}


class ReadQuery(TimePage):
    username = fields.String(
        validate=validate.Length(min=1, max=64), metadata={"description": "Who read"}
    )
    client_id = fields.Integer(
        validate=validate.Range(min=1, max=2**62), metadata={"description": "Which client"}
    )


class ClientReadSchema(Schema):
    id = fields.Integer(required=True)
    at = fields.String(required=True)
    username = fields.String(required=True)
    channel = fields.String(allow_none=True, metadata={"description": "api or console"})
    view = fields.String(
        required=True, metadata={"description": "list, detail, edit, report or personal_data"}
    )
    client_ids = fields.List(fields.Integer(), required=True)
    unmasked = fields.Dict(
        attribute="fields",
        data_key="fields",
        required=True,
        metadata={"description": "Per client id, the sensitive fields shown unmasked"},
    )
    source = fields.String(allow_none=True, metadata={"description": "The caller's address"})
    request_id = fields.String(allow_none=True)


class ClientReadPage(Schema):
    items = fields.List(fields.Nested(ClientReadSchema), required=True)
    next_cursor = fields.String(allow_none=True)


@blp.route("/reads")
class ClientReads(MethodView):
    @allow(client_reads.require_read_auditor)
    @blp.doc(security=[BEARER])
    @blp.arguments(ReadQuery, location="query")
    @blp.response(200, ClientReadPage)
    @blp.alt_response(400, description="Unknown query parameter")
    @blp.alt_response(403, description="Neither an auditor nor a manager")
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Every read of client records by a person (API and console, lists and details),
        newest first: filter by ``username``, ``client_id`` and time (cursor pagination)."""
        limit, cursor = query.pop("limit"), query.pop("cursor")

        def page() -> dict[str, Any]:
            rows, after = client_reads.search_reads(
                db.session,
                client_reads.ReadFilter(**query),
                limit=limit,
                before_id=int(cursor) if cursor else None,
            )
            return {
                "items": [client_reads.read_view(r) for r in rows],
                "next_cursor": str(after) if after else None,
            }

        return transact(db.session, page)


@blp.route("/verify")
class AuditVerify(MethodView):
    @allow(partial(require_auditor, what="verifying the audit trail"))
    @blp.doc(security=[BEARER])
    @blp.response(200, VerifyReportSchema)
    @blp.alt_response(403, description="Not an auditor")
    def get(self) -> dict[str, Any]:
        """Compare with the anchor file, verify checkpoints, chains, heads, replay and evidence;
        names the first break."""
        return verification.verify_as(
            db.session, current_actor(), anchor=anchors.default_file(runtime_of().settings)
        ).to_dict()


@blp.route("/export")
class AuditExport(MethodView):
    @allow(partial(require_auditor, what="exporting the audit trail"))
    @blp.doc(
        security=[BEARER],
        responses={
            "200": {
                "description": "JSON Lines (application/x-ndjson) or CSV (UTF-8 with BOM), streamed",
                "content": {"application/x-ndjson": {}, "text/csv": {}},
            }
        },
    )
    @blp.arguments(ExportQuery, location="query")
    @blp.alt_response(400, description="Unknown query parameter")
    @blp.alt_response(403, description="Not an auditor")
    @blp.alt_response(404, description="No such instance")
    def get(self, query: dict[str, Any]) -> Response:
        """Export one instance, one client or a time range (combined: all must hold; none:
        everything) with the chain proof."""
        fmt = query.pop("format")
        scope = audit_export.ExportScope(**query)
        actor = current_actor()
        if fmt == "jsonl":
            lines = audit_export.export_jsonl(db.session, scope, actor)
            mimetype, suffix = "application/x-ndjson", "jsonl"
        else:
            lines = audit_export.export_csv(db.session, scope, actor)
            mimetype, suffix = "text/csv", "csv"  # Flask adds "; charset=utf-8"
        name = _filename(scope, suffix)
        return Response(
            stream_with_context(line.encode("utf-8") for line in lines),
            mimetype=mimetype,
            headers={"Content-Disposition": f'attachment; filename="{name}"'},
        )


def _filename(scope: audit_export.ExportScope, suffix: str) -> str:
    if scope.instance_id is not None:
        return f"audit-instance-{scope.instance_id}.{suffix}"
    if scope.client_id is not None:
        return f"audit-client-{scope.client_id}.{suffix}"
    return f"audit-range.{suffix}"


def register(app: Any, api: Any) -> None:
    from .reports import blp as reports_blp

    api.register_blueprint(blp)
    api.register_blueprint(reports_blp)
