"""Due diligence: ad-hoc opening on a client, and evidence files on the case."""

from __future__ import annotations

import os
from pathlib import Path
from typing import Any

from flask import Flask, Response, g, request, send_file
from flask.views import MethodView
from flask_smorest import Api
from flask_smorest.fields import Upload
from marshmallow import fields, validate

from workflow.engine.presentation import present_instance
from workflow.errors import ValidationFailed
from workflow.platform.transaction import transact
from workflow.risk.due_diligence import evidence
from workflow.risk.due_diligence import review as due_diligence

from ..authorization import allow
from ..extensions import db, runtime_of
from ..fields import FreeText, Schema, UtcDateTime
from ..request_shape import Blueprint
from ..schemas import PageQuery, WorkflowInstanceSchema
from ..security import BEARER, current_actor, protect
from .workflows import parse_cursor

blp = protect(
    Blueprint(
        "due_diligence",
        __name__,
        url_prefix="/api/v1",
        description="Due-diligence reviews (尽职调查) and their evidence files",
    )
)

# Room for the multipart envelope around a file of the largest allowed size.
_ENVELOPE = 64 * 1024


class OpenReviewBody(Schema):
    comment = FreeText(validate=validate.Length(max=4000), allow_none=True)


class EvidenceUpload(Schema):
    file = Upload(required=True, metadata={"description": "PDF, image or office document"})


class EvidenceSchema(Schema):
    sha256 = fields.String(required=True)
    filename = fields.String(required=True)
    content_type = fields.String(required=True)
    size = fields.Integer(required=True)
    uploaded_by = fields.String(required=True)
    uploaded_at = UtcDateTime(required=True)
    download = fields.Method("download_url")

    def download_url(self, row: evidence.Evidence) -> str:
        return f"/api/v1/workflows/{row.instance_id}/evidence/{row.sha256}"


class EvidencePage(Schema):
    items = fields.List(fields.Nested(EvidenceSchema), required=True)
    next_cursor = fields.String(allow_none=True)


@blp.before_request
def allow_evidence_bodies() -> None:
    """Uploads may exceed the API's general body limit, up to the evidence limit."""
    if request.method == "POST" and request.path.endswith("/evidence"):
        request.max_content_length = evidence.max_bytes(runtime_of().settings) + _ENVELOPE


@blp.route("/clients/<int:client_id>/due-diligence")
class ClientDueDiligence(MethodView):
    @allow(due_diligence.reviewable_client)
    @blp.doc(security=[BEARER])
    @blp.arguments(OpenReviewBody)
    @blp.response(201, WorkflowInstanceSchema)
    @blp.alt_response(403, description="Only risk officers and managers open a review")
    @blp.alt_response(409, description="A review of this client is already open")
    def post(self, body: dict[str, Any], client_id: int) -> dict[str, Any]:
        """Open an ad-hoc due-diligence review of a client."""
        actor = current_actor()
        instance = transact(
            db.session,
            lambda: due_diligence.open_review(
                db.session,
                client_id,
                actor,
                reason="ad_hoc",
                comment=body.get("comment"),
                request_id=g.request_id,
            ),
        )
        return present_instance(db.session, instance, actor)


@blp.route("/workflows/<int:instance_id>/evidence")
class CaseEvidence(MethodView):
    @allow(evidence.listable_case)
    @blp.doc(security=[BEARER])
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, EvidencePage)
    def get(self, query: dict[str, Any], instance_id: int) -> dict[str, Any]:
        """The case's evidence files, oldest first."""
        after = parse_cursor(query.get("cursor")) or 0
        rows = evidence.list_for(
            db.session, instance_id, current_actor(), after=after, limit=query["limit"] + 1
        )
        more = len(rows) > query["limit"]
        rows = rows[: query["limit"]]
        return {"items": rows, "next_cursor": str(rows[-1].id) if more and rows else None}

    @allow(evidence.uploadable_case)
    @blp.doc(security=[BEARER])
    @blp.arguments(EvidenceUpload, location="files")
    @blp.response(201, EvidenceSchema)
    @blp.alt_response(413, description="The file exceeds RISKLOOP_EVIDENCE_MAX_BYTES")
    @blp.alt_response(415, description="Not a PDF, image or office document")
    def post(self, files: dict[str, Any], instance_id: int) -> evidence.Evidence:
        """Upload an evidence file (multipart field ``file``); stored by its SHA-256."""
        upload = files["file"]
        if request.form:
            raise ValidationFailed(
                "only the file is accepted", errors={k: ["Unknown field."] for k in request.form}
            )
        actor = current_actor()
        return transact(
            db.session,
            lambda: evidence.attach(
                db.session,
                instance_id,
                actor,
                upload.stream,
                filename=upload.filename or "",
                content_type=upload.mimetype,
                request_id=g.request_id,
            ),
        )


@blp.route("/workflows/<int:instance_id>/evidence/<string:sha256>")
class CaseEvidenceFile(MethodView):
    @allow(evidence.downloadable_file)
    @blp.doc(
        security=[BEARER],
        responses={"200": {"description": "The file", "content": {"application/octet-stream": {}}}},
    )
    def get(self, instance_id: int, sha256: str) -> Response:
        """Download an evidence file (checked against its hash first)."""
        row, path = evidence.open_for_download(db.session, instance_id, sha256, current_actor())
        name = evidence.download_name(
            row.filename, row.content_type
        )  # the checked type's extension
        response = send_file(
            path,
            mimetype=row.content_type,
            as_attachment=True,
            download_name=name,
            etag=row.sha256,
            conditional=True,
        )
        response.headers["Cache-Control"] = "private, no-store"
        return response


def register(app: Flask, api: Api) -> None:
    """Read this feature's settings (app config, else the environment, else the default;
    evidence under the instance folder) and add the routes."""
    defaults: dict[str, Any] = {
        "RISKLOOP_EVIDENCE_DIR": str(Path(app.instance_path) / "evidence"),
        "RISKLOOP_EVIDENCE_MAX_BYTES": evidence.DEFAULT_MAX_BYTES,
        "RISKLOOP_REVIEW_MONTHS": 3,
        "RISKLOOP_REVIEW_MONTHS_HIGH_RISK": 1,
        "RISKLOOP_CONTRACT_REMINDER_DAYS": 30,
    }
    settings = app.extensions["riskloop"]["runtime"].settings
    for key, default in defaults.items():
        value = app.config.get(key) or os.environ.get(key) or default
        app.config[key] = settings[key] = int(value) if isinstance(default, int) else str(value)
    api.register_blueprint(blp)
