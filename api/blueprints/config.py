"""Governed configuration: the kinds, their active versions, and drafts for approval.

Approving, rejecting and withdrawing a draft are the generic workflow actions
(``POST /api/v1/workflows/{id}/actions/approve|reject|withdraw``); ``approve`` takes the
``content_hash`` the checker read.
"""

from __future__ import annotations

from typing import Any

from flask import Flask, current_app, g
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import RAISE, fields, validate

from workflow.engine.catalog import Catalog
from workflow.engine.presentation import present_instance
from workflow.platform.transaction import transact
from workflow.records import config_versions as versions
from workflow.records.identity import Actor
from workflow.risk.governance import progress
from workflow.risk.governance.changes import (
    all_kinds,
    current,
    draft_change,
    kind_named,
    may_draft,
    may_read,
)

from ..authorization import allow
from ..extensions import db, runtime_of
from ..fields import FreeText, Schema, UtcDateTime
from ..request_shape import Blueprint
from ..schemas import WorkflowInstanceSchema
from ..security import BEARER, current_actor, protect

blp = protect(
    Blueprint(
        "config",
        __name__,
        url_prefix="/api/v1/config",
        description="Governed configuration (配置变更): rule sets, monitoring, routing, checklist",
    )
)
MAX_CONTENT = 1_000_000


class ConfigSummary(Schema):
    kind = fields.String(required=True)
    version = fields.Integer(required=True)
    content_hash = fields.String(required=True)
    activated_at = UtcDateTime(allow_none=True)
    created_by = fields.String(required=True)
    approved_by = fields.String(allow_none=True)
    change_id = fields.Integer(allow_none=True)


class ConfigDetail(ConfigSummary):
    content = fields.String(required=True)
    versions = fields.List(fields.Integer(), required=True)


class DraftBody(Schema):
    class Meta:
        unknown = RAISE

    content = FreeText(
        required=True,
        validate=validate.Length(min=1, max=MAX_CONTENT),
        metadata={"description": "the whole YAML document; its `version` is assigned"},
    )
    reason = FreeText(required=True, validate=validate.Length(min=1, max=2000))


class BacktestProgress(Schema):
    change_id = fields.Integer(required=True)
    state = fields.String(required=True)
    done = fields.Integer(required=True)
    total = fields.Integer(required=True)
    running = fields.Boolean(required=True)
    updated_at = fields.String(allow_none=True)
    outcome = fields.String(
        required=True,
        validate=validate.OneOf(["waiting", "running", "failed", "done", "stopped"]),
        metadata={
            "description": "failed: the case stays `backtesting` and cannot be published "
            "(`reason` says why); done: the report is on the change; stopped: withdrawn first"
        },
    )
    finished = fields.Boolean(
        required=True, metadata={"description": "the backtest ran to an end (failed or done)"}
    )
    reason = fields.String(allow_none=True, metadata={"description": "why it failed"})


def _summary(row: versions.ConfigVersion) -> dict[str, Any]:
    return {
        "kind": row.kind,
        "version": row.version,
        "content_hash": row.content_hash,
        "activated_at": row.activated_at,
        "created_by": row.created_by,
        "approved_by": row.approved_by,
        "change_id": row.change_id,
    }


def _catalog() -> Catalog:
    return runtime_of(current_app).catalog


def readable_kind(actor: Actor, kind: str) -> None:
    may_read(actor)
    kind_named(kind, _catalog())


def draftable_kind(actor: Actor, kind: str) -> None:
    may_draft(actor, kind, _catalog())


@blp.route("")
class ConfigList(MethodView):
    @allow(may_read)
    @blp.doc(security=[BEARER])
    @blp.response(200, ConfigSummary(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every kind of governed configuration with its active version and hash, with
        ``definition:<name>`` for each loaded workflow definition."""
        kinds = all_kinds(_catalog())
        return transact(db.session, lambda: [_summary(current(db.session, k)) for k in kinds])


@blp.route("/<string:kind>")
class ConfigView(MethodView):
    @allow(readable_kind)
    @blp.doc(security=[BEARER])
    @blp.response(200, ConfigDetail)
    @blp.alt_response(404, description="No such kind")
    def get(self, kind: str) -> dict[str, Any]:
        """The active version of a kind: its content (YAML) and the versions stored."""
        row = transact(db.session, lambda: current(db.session, kind_named(kind, _catalog())))
        return {
            **_summary(row),
            "content": row.content,
            "versions": [v.version for v in versions.history(db.session, kind)],
        }


@blp.route("/<string:kind>/drafts")
class ConfigDrafts(MethodView):
    @allow(draftable_kind)
    @blp.doc(security=[BEARER])
    @blp.arguments(DraftBody)
    @blp.response(201, WorkflowInstanceSchema)
    @blp.alt_response(403, description="Not a risk officer (an admin for definition:<name>)")
    @blp.alt_response(404, description="No such kind")
    @blp.alt_response(
        422,
        description="The draft does not validate: every problem listed in `errors.content`, "
        "each with `file`, `key`, `message` (English), `code` and `params` (the values it names)",
    )
    def post(self, body: dict[str, Any], kind: str) -> dict[str, Any]:
        """Draft a new version: it is backtested, then a manager (not you) approves its hash.

        ``definition:<name>`` takes a whole workflow definition (administrators only); its
        backtest is the dry-run migration of the open instances."""
        actor = current_actor()
        instance = transact(
            db.session,
            lambda: draft_change(
                db.session, kind, body["content"], body["reason"], actor, request_id=g.request_id
            ),
        )
        return present_instance(db.session, instance, actor)


@blp.route("/changes/<int:change_id>/progress")
class ConfigChangeProgress(MethodView):
    @allow(may_read)
    @blp.doc(security=[BEARER])
    @blp.response(200, BacktestProgress)
    @blp.alt_response(404, description="No such configuration change")
    def get(self, change_id: int) -> dict[str, Any]:
        """The backtest's progress while it runs (``running``: true), then its last word:
        ``done`` of ``total`` clients, events, alerts or cases replayed."""
        return transact(db.session, lambda: progress.of_change(db.session, change_id))


def register(app: Flask, api: Api) -> None:
    api.register_blueprint(blp)
