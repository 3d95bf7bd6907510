"""Moving open instances of a definition to another version: dry run, apply, revert."""

from __future__ import annotations

from typing import Any

from flask import Flask, g
from flask.views import MethodView
from flask_smorest import Api
from marshmallow import fields, validate

from workflow.engine import migration
from workflow.platform.hygiene import MAX_INTEGER

from ..authorization import allow
from ..extensions import db
from ..fields import Schema, Text, UtcDateTime
from ..request_shape import Blueprint
from ..security import BEARER, current_actor, protect

blp = protect(
    Blueprint(
        "definition_migrations",
        __name__,
        url_prefix="/api/v1/definitions",
        description="Moving running instances to another definition version",
    )
)

_STATE = Text(validate=validate.Length(min=1, max=64))


class MigrationBody(Schema):
    to_version = fields.Integer(
        required=True, strict=True, validate=validate.Range(min=1, max=MAX_INTEGER)
    )
    dry_run = fields.Boolean(load_default=True)
    state_map = fields.Dict(keys=_STATE, values=_STATE, load_default=dict)


class InstancePlanSchema(Schema):
    instance_id = fields.Integer(required=True)
    from_version = fields.Integer(required=True)
    state = fields.String(required=True)
    to_state = fields.String(required=True)
    status = fields.String(
        required=True,
        metadata={"description": "migratable | blocked (a revert: reverted | blocked)"},
    )
    reason = fields.String(
        allow_none=True,
        metadata={
            "description": "why it is blocked: "
            + ", ".join(migration.REASONS + migration.REVERT_REASONS)
        },
    )
    detail = fields.Dict()


class MigrationReportSchema(Schema):
    migration_id = fields.Integer(allow_none=True)
    definition = fields.String(required=True)
    to_version = fields.Integer(required=True)
    to_hash = fields.String(required=True)
    state_map = fields.Dict(keys=fields.String(), values=fields.String())
    status = fields.String(required=True, metadata={"description": "planned | applied | reverted"})
    counts = fields.Dict(keys=fields.String(), values=fields.Integer())
    remaining = fields.Integer(
        metadata={"description": "open instances apply did not reach (locked): apply again"}
    )
    instances = fields.List(fields.Nested(InstancePlanSchema), required=True)


class MovedInstanceSchema(Schema):
    instance_id = fields.Integer(required=True)
    from_version = fields.Integer(required=True)
    from_state = fields.String(required=True)
    from_hash = fields.String(required=True)
    reverted = fields.Boolean(required=True)


class MigrationSchema(Schema):
    id = fields.Integer(required=True)
    definition = fields.String(required=True)
    from_versions = fields.List(fields.Integer())
    to_version = fields.Integer(required=True)
    to_hash = fields.String(required=True)
    state_map = fields.Dict(keys=fields.String(), values=fields.String())
    status = fields.String(required=True, metadata={"description": "running | applied | reverted"})
    migrated = fields.Integer()
    blocked = fields.Integer()
    created_by = fields.String()
    created_at = UtcDateTime()
    finished_at = UtcDateTime(allow_none=True)
    reverted_by = fields.String(allow_none=True)
    reverted_at = UtcDateTime(allow_none=True)
    instances = fields.List(fields.Nested(MovedInstanceSchema))


@blp.route("/<string:name>/migrations")
class Migrations(MethodView):
    @allow(migration.require_administrator)
    @blp.doc(security=[BEARER])
    @blp.arguments(MigrationBody)
    @blp.response(200, MigrationReportSchema)
    @blp.alt_response(201, schema=MigrationReportSchema, description="Applied")
    @blp.alt_response(403, description="Only administrators move running instances")
    @blp.alt_response(404, description="No such definition")
    @blp.alt_response(409, description="An unfinished migration used another state map")
    @blp.alt_response(422, description="Unknown version, or a state map naming unknown states")
    def post(self, body: dict[str, Any], name: str) -> tuple[dict[str, Any], int]:
        """Dry run (the default) or apply: every open instance classified as migratable or
        blocked with the reason; applying moves the migratable ones in batches."""
        if body["dry_run"]:
            report = migration.plan(db.session, name, body["to_version"], body["state_map"])
            return report.to_dict(), 200
        report = migration.apply(
            db.session,
            name,
            body["to_version"],
            current_actor(),
            body["state_map"],
            request_id=g.request_id,
        )
        return report.to_dict(), 201


@blp.route("/<string:name>/migrations/<int:migration_id>")
class MigrationView(MethodView):
    @allow(migration.require_administrator)
    @blp.doc(security=[BEARER])
    @blp.response(200, MigrationSchema)
    @blp.alt_response(403, description="Only administrators")
    @blp.alt_response(404, description="No such migration of this definition")
    def get(self, name: str, migration_id: int) -> dict[str, Any]:
        """A migration: who, when, which versions, and each instance it moved."""
        return migration.describe(db.session, migration.get(db.session, migration_id, name))


@blp.route("/<string:name>/migrations/<int:migration_id>/revert")
class MigrationRevert(MethodView):
    @allow(migration.require_administrator)
    @blp.doc(security=[BEARER])
    @blp.response(200, MigrationReportSchema)
    @blp.alt_response(403, description="Only administrators")
    @blp.alt_response(404, description="No such migration of this definition")
    @blp.alt_response(409, description="Reverted already")
    def post(self, name: str, migration_id: int) -> dict[str, Any]:
        """Put back every instance the migration moved that has not moved since."""
        migration.get(db.session, migration_id, name)
        return migration.revert(
            db.session, migration_id, current_actor(), request_id=g.request_id
        ).to_dict()


def register(app: Flask, api: Api) -> None:
    api.register_blueprint(blp)
