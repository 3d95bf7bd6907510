"""Workflow instances: list, read, fire an action, read the audit trail."""

from __future__ import annotations

from typing import Any

from flask import Response
from flask.views import MethodView
from sqlalchemy.orm import Session

from workflow.accounts.users import TokenCredential
from workflow.engine import firing as engine
from workflow.engine import queries, visibility
from workflow.engine.presentation import present_instance
from workflow.errors import ValidationFailed
from workflow.platform.transaction import transact
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance

from ..authorization import allow, signed_in
from ..contexts import this_app, this_g, this_request
from ..dumping import compile_dump
from ..extensions import db, runtime_of
from ..request_shape import Blueprint, checked_body
from ..schemas import (
    ActionBody,
    AuditPage,
    FireResultSchema,
    PageQuery,
    WorkflowInstanceSchema,
    WorkflowPage,
    WorkflowQuery,
)
from ..security import BEARER, current_actor, protect

blp = protect(
    Blueprint(
        "workflows",
        __name__,
        url_prefix="/api/v1/workflows",
        description="Workflow instances and their actions",
    )
)


def parse_cursor(cursor: str | None) -> int | None:
    if cursor is None:
        return None
    if not cursor.isdigit():
        raise ValidationFailed(
            "the cursor is invalid", errors={"cursor": ["Use next_cursor from the previous page."]}
        )
    return int(cursor)


def load_visible(instance_id: int) -> WorkflowInstance:
    """The instance if the caller may see it. Kept for the request (its environ, which
    lives exactly as long as the request; ``g`` may outlive one): the authorisation check
    and the view both ask, and the session's identity map holds the row only while
    something refers to it, so the view would read it again."""
    environ = this_request().environ
    kept = environ.get(_VISIBLE)
    if kept is not None and kept.id == instance_id:
        return kept  # type: ignore[no-any-return]
    actor = current_actor()
    instance = db.session.get(WorkflowInstance, instance_id)
    visible = visibility.require_view(
        db.session, instance, actor, runtime_of().catalog, instance_id
    )
    environ[_VISIBLE] = visible
    return visible


_VISIBLE = "riskloop.visible_instance"


def may_fire(session: Session, credential: TokenCredential, instance_id: int, trigger: str) -> None:
    """``engine.authorize`` before the body is loaded. The body's ``expected_version``, when
    it is a number, is compared as ``fire`` compares it (a stale version is a 409 before the
    roles, so that two approvers racing get a clean 409); nothing else of the body is read.

    ``authorize`` locks the row (lock-then-authorise in the request's transaction); what
    it read is kept for the view's ``fire``, which then neither locks nor reads it again.
    The bearer token is checked in that same statement (``credential``: an invalid one is
    a 401 and locks nothing), which names the caller (``g.actor``).
    A refusal raises here and the request's session is rolled back at teardown."""
    body = checked_body()  # what the request's checks parsed (None: no JSON body)
    version = body.get("expected_version") if isinstance(body, dict) else None
    valid = type(version) is int and 1 <= version <= 2**31 - 1  # else ActionBody refuses it (422)
    state = this_g()
    state.fire_lock = locked = engine.authorize(
        session,
        instance_id,
        trigger,
        credential,
        expected_version=version if valid else None,
        idempotency_key=this_request().headers.get("Idempotency-Key"),
    )
    state.actor = locked.acting


@blp.route("")
class WorkflowList(MethodView):
    @allow(signed_in)
    @blp.doc(security=[BEARER])
    @blp.arguments(WorkflowQuery, location="query")
    @blp.response(200, WorkflowPage)
    def get(self, query: dict[str, Any]) -> dict[str, Any]:
        """Instances visible to the caller, newest first (cursor pagination)."""
        actor = current_actor()
        page = queries.visible_instances(
            db.session,
            actor,
            runtime_of().catalog,
            limit=query["limit"],
            definition=query.get("definition"),
            state=query.get("state"),
            subject_id=query.get("subject_id"),
            is_open=query.get("open"),
            before=parse_cursor(query.get("cursor")),
        )
        return {
            "items": [present_instance(db.session, instance, actor) for instance in page.items],
            "next_cursor": str(page.next_cursor) if page.next_cursor is not None else None,
        }


@blp.route("/<int:instance_id>")
class WorkflowDetail(MethodView):
    @allow(load_visible)
    @blp.doc(security=[BEARER])
    @blp.response(200, WorkflowInstanceSchema)
    def get(self, instance_id: int) -> dict[str, Any]:
        """One instance with its state, version, SLA and the caller's available actions."""
        return present_instance(db.session, load_visible(instance_id), current_actor())


@blp.route("/<int:instance_id>/actions/<string:trigger>")
class WorkflowAction(MethodView):
    @allow(may_fire)
    @blp.doc(
        security=[BEARER],
        parameters=[
            {
                "in": "header",
                "name": "Idempotency-Key",
                "required": False,
                "schema": {"type": "string", "maxLength": 128},
                "description": "Repeating a request with the same key returns the first result.",
            }
        ],
    )
    # An instance, not the class: webargs would build a schema object per request.
    @blp.arguments(ActionBody())
    @blp.response(200, FireResultSchema)
    @blp.alt_response(403, description="Missing role or a segregation-of-duties rule refused")
    @blp.alt_response(409, description="Version conflict or action not allowed in this state")
    @blp.alt_response(422, description="Invalid payload or condition not met")
    def post(self, body: dict[str, Any], instance_id: int, trigger: str) -> Response:
        """Fire an action; body ``{comment, expected_version, …payload}``."""
        actor = current_actor()
        state = this_g()
        key = this_request().headers.get("Idempotency-Key")
        if key is not None and not (0 < len(key) <= 128):
            raise ValidationFailed(
                "the Idempotency-Key header is invalid",
                errors={"Idempotency-Key": ["Use 1-128 characters."]},
            )
        comment = body.pop("comment", None)
        expected = body.pop("expected_version", None)
        session = db.session()  # the request's session, not the proxy that looks it up per use
        # fire() checks that the actor may see the case (404 otherwise) under the row lock.
        result = transact(
            session,
            lambda: engine.fire(
                session,
                instance_id,
                trigger,
                actor,
                body,
                expected_version=expected,
                idempotency_key=key,
                comment=comment,
                request_id=state.request_id,
                held=state.get("fire_lock"),
            ),
            keep_loaded=True,
        )
        instance = result.instance or session.get(WorkflowInstance, instance_id)
        answer = {
            "instance": present_instance(session, instance, actor),
            "from_state": result.from_state,
            "to_state": result.to_state,
            "replayed": result.replayed,
        }
        # FireResultSchema's dump, compiled once (api.dumping); a Response is sent as is.
        return this_app().json.response(_dump_fire_result(answer))


_dump_fire_result = compile_dump(FireResultSchema())


@blp.route("/<int:instance_id>/audit")
class WorkflowAudit(MethodView):
    @allow(load_visible)
    @blp.doc(security=[BEARER])
    @blp.arguments(PageQuery, location="query")
    @blp.response(200, AuditPage)
    def get(self, query: dict[str, Any], instance_id: int) -> dict[str, Any]:
        """The instance's audit records in order, with their hashes."""
        instance = load_visible(instance_id)
        after = parse_cursor(query.get("cursor")) or 0
        rows = queries.timeline(db.session, instance_id, after=after, limit=query["limit"] + 1)
        more = len(rows) > query["limit"]
        rows = rows[: query["limit"]]
        actor = current_actor()
        items = [record_for(instance, row, actor) for row in rows]
        return {"items": items, "next_cursor": str(rows[-1].seq) if more and rows else None}


def record_for(instance: WorkflowInstance, record: AuditRecord, actor: Actor) -> dict[str, Any]:
    """An audit record as ``actor`` may see it: people who may not see a case's
    sensitive data (sales) get the payload of their own actions only, masked as the case
    is — screening scores, checklists and diffs stay hidden, the who/when/what stays visible."""
    data = {c.key: getattr(record, c.key) for c in AuditRecord.__table__.columns}
    payload = visibility.record_payload_for(
        db.session, instance, record, actor, runtime_of().catalog
    )
    if payload is None:
        data["payload"] = {}
        data["payload_hidden"] = True
    else:
        data["payload"] = payload
    return data
