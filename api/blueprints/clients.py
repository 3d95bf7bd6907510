"""The client archive (客户档案) and admissions: thin views over workflow.domain services."""

from __future__ import annotations

from typing import Any

from flask import Flask, g, request
from flask.views import MethodView
from flask_smorest import Api

from web import risk_report
from workflow.engine.presentation import present_instance
from workflow.platform.transaction import transact
from workflow.risk.clients.bulk_import import authorize_import, run_import
from workflow.risk.clients.queries import list_clients, read_client
from workflow.risk.clients.service import (
    authorize_create,
    client_view,
    client_views,
    create_client,
    editable_client,
    update_client,
)
from workflow.risk.events.portrait import authorize_report, portrait
from workflow.risk.onboarding import admissible_client, start_admission
from workflow.risk.privacy.personal_data import authorize_export, personal_data

from ..authorization import allow, signed_in
from ..extensions import db
from ..request_shape import Blueprint
from ..schemas import WorkflowInstanceSchema
from ..schemas_clients import (
    AdmissionBody,
    ClientCreate,
    ClientPage,
    ClientPatch,
    ClientQuery,
    ClientReport,
    ClientSchema,
    ImportFile,
    ImportQuery,
    ImportReport,
    PersonalDataExport,
    ReportQuery,
)
from ..security import BEARER, current_actor, protect
from .workflows import parse_cursor

blp = protect(
    Blueprint(
        "clients",
        __name__,
        url_prefix="/api/v1/clients",
        description="The client archive, masked by role, and admissions",
    )
)


@blp.route("")
class ClientList(MethodView):
    @allow(signed_in)
    @blp.doc(security=[BEARER])
    @blp.arguments(ClientQuery, location="query")
    @blp.response(200, ClientPage)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Clients the caller may see, newest first; filter by status, rating, risk_level,
        owner, or ``q`` (name or credit code). Sales see their own clients."""
        actor = current_actor()

        def page() -> dict[str, Any]:
            rows, after = list_clients(
                db.session,
                actor,
                query,
                limit=query["limit"],
                before_id=parse_cursor(query.get("cursor")),
            )
            return {
                "items": client_views(db.session, rows, actor),
                "next_cursor": str(after) if after else None,
            }

        return transact(db.session, page)

    @allow(authorize_create)
    @blp.doc(security=[BEARER])
    @blp.arguments(ClientCreate)
    @blp.response(201, ClientSchema)
    @blp.alt_response(409, description="A client with this credit code exists")
    @blp.alt_response(422, description="Invalid fields (per field)")
    def post(self, body: dict[str, Any]) -> dict[str, Any]:
        """Create a client (status prospect); sales own the clients they create."""
        actor = current_actor()
        return transact(
            db.session,
            lambda: client_view(db.session, create_client(db.session, body, actor), actor),
        )


@blp.route("/<int:client_id>")
class ClientDetail(MethodView):
    @allow(read_client)
    @blp.doc(security=[BEARER])
    @blp.response(200, ClientSchema)
    @blp.alt_response(403, description="A role that reads no client (admin)")
    @blp.alt_response(404, description="No such client, or (sales) another owner's")
    def get(self, client_id: int) -> dict[str, Any]:
        """One client, masked by role (an unmasked read of sensitive data is audited)."""
        actor = current_actor()
        return transact(
            db.session,
            lambda: client_view(db.session, read_client(db.session, client_id, actor), actor),
        )

    @allow(editable_client)
    @blp.doc(security=[BEARER])
    @blp.arguments(ClientPatch(partial=True))
    @blp.response(200, ClientSchema)
    @blp.alt_response(403, description="A role that may not edit clients")
    @blp.alt_response(404, description="No such client, or (sales) another owner's")
    @blp.alt_response(
        409, description="A sensitive field (file a change request) or a stale version"
    )
    def patch(self, body: dict[str, Any], client_id: int) -> dict[str, Any]:
        """Edit non-sensitive fields; ``expected_version`` guards against lost updates."""
        actor = current_actor()
        expected = body.pop("expected_version", None)

        def edit() -> dict[str, Any]:
            client = update_client(db.session, client_id, body, actor, expected_version=expected)
            return client_view(db.session, client, actor)

        return transact(db.session, edit)


@blp.route("/import")
class ClientImport(MethodView):
    @allow(authorize_import)
    @blp.doc(security=[BEARER])
    @blp.arguments(ImportQuery, location="query")
    @blp.arguments(ImportFile, location="files")
    @blp.response(200, ImportReport)
    @blp.alt_response(
        413, description="An .xlsx that would unpack beyond the RISKLOOP_ZIP_MAX_* limits"
    )
    @blp.alt_response(422, description="Bad rows (nothing imported); a dry run lists them all")
    def post(self, query: dict[str, Any], files: dict[str, Any]) -> dict[str, Any]:
        """Import clients from a CSV or XLSX file, idempotent by credit code; ``dry_run``
        checks every row and writes nothing; ``submit`` starts an admission for each."""
        actor = current_actor()
        upload = files["file"]
        content = upload.read()
        report = transact(
            db.session,
            lambda: run_import(
                db.session,
                content,
                upload.filename or "",
                actor,
                dry_run=query["dry_run"],
                submit=query["submit"],
            ),
        )
        return report.to_dict()


@blp.route("/<int:client_id>/admission")
class Admission(MethodView):
    @allow(admissible_client)
    @blp.doc(security=[BEARER])
    @blp.arguments(AdmissionBody)
    @blp.response(201, WorkflowInstanceSchema)
    @blp.alt_response(403, description="Admissions are submitted by sales")
    @blp.alt_response(404, description="No such client, or (sales) another owner's")
    @blp.alt_response(409, description="An admission is already running, or the client is active")
    def post(self, body: dict[str, Any], client_id: int) -> dict[str, Any]:
        """Start onboarding (客户准入) for the client and submit it for screening."""
        actor = current_actor()
        instance = transact(
            db.session,
            lambda: start_admission(
                db.session,
                client_id,
                actor,
                submit=body["submit"],
                comment=body.get("comment"),
                request_id=g.request_id,
            ),
        )
        return present_instance(db.session, instance, actor)


def _report_lang(asked: str | None) -> str:
    if asked:
        return asked
    best = request.accept_languages.best_match(["zh-CN", "zh", "en"])
    return "en" if best == "en" else "zh-CN"


@blp.route("/<int:client_id>/report")
class Report(MethodView):
    @allow(authorize_report)
    @blp.doc(security=[BEARER])
    @blp.arguments(ReportQuery, location="query")
    @blp.response(200, ClientReport)
    @blp.doc(
        responses={
            "200": {
                "description": "The report: JSON, a PDF download or a print-ready page",
                "content": {
                    "application/json": {"schema": {"$ref": "#/components/schemas/ClientReport"}},
                    "application/pdf": {"schema": {"type": "string", "format": "binary"}},
                    "text/html": {"schema": {"type": "string"}},
                },
            }
        }
    )
    @blp.alt_response(403, description="Sales and admins never see the risk report")
    @blp.alt_response(404, description="No such client, or (sales) another owner's")
    def get(self, query: dict[str, Any], client_id: int) -> Any:
        """The client's risk report: its portrait as JSON, or ``format=pdf`` (a download)
        or ``format=html`` (print-ready) worded in ``lang`` or the Accept-Language."""
        actor = current_actor()

        def read() -> dict[str, Any]:
            return portrait(
                db.session, authorize_report(db.session, client_id, actor), actor, view="report"
            )

        data = transact(db.session, read)
        if query["format"] == "json":
            return data
        with risk_report.in_language(_report_lang(query.get("lang"))):
            return risk_report.response(data, query["format"])


@blp.route("/<int:client_id>/personal-data")
class PersonalData(MethodView):
    @allow(authorize_export)
    @blp.doc(security=[BEARER])
    @blp.response(200, PersonalDataExport)
    @blp.alt_response(403, description="Neither legal nor a manager")
    @blp.alt_response(404, description="No such client")
    def get(self, client_id: int) -> dict[str, Any]:
        """Everything held about the client (PIPL data-subject export) as one JSON document:
        the record, contracts, screening, events, tags, ratings, alerts, cases, evidence
        metadata, its audit records and every logged read; the export is logged as a read."""
        actor = current_actor()
        return transact(
            db.session,
            lambda: personal_data(
                db.session, authorize_export(db.session, client_id, actor), actor
            ),
        )


def register(app: Flask, api: Api) -> None:
    api.register_blueprint(blp)
