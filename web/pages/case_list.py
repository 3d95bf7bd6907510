"""All cases I may see, newest first, with filters; change requests are one filter of it."""

from __future__ import annotations

from flask import redirect, render_template, request, url_for
from sqlalchemy import select
from werkzeug.wrappers import Response

from workflow.engine import visibility
from workflow.records.models import WorkflowInstance

from ..console import blp, current_actor
from ..database import db, runtime_of
from ..display import prefetch_subject_names

PAGE = 50
SCAN = PAGE * 5  # visibility is checked per row; a bounded window keeps a page fast
CHANGE_REQUESTS = "sensitive_edit"


@blp.get("/cases")
def cases() -> str:
    actor = current_actor()
    catalog = runtime_of().catalog
    definition = request.args.get("definition") or None
    state = request.args.get("state") or None
    open_only = request.args.get("open", "1") == "1"
    before = request.args.get("before", type=int)
    stmt = select(WorkflowInstance).order_by(WorkflowInstance.id.desc())
    if definition:
        stmt = stmt.where(WorkflowInstance.definition == definition)
    if state:
        stmt = stmt.where(WorkflowInstance.state == state)
    if open_only:
        stmt = stmt.where(WorkflowInstance.is_open.is_(True))
    if before:
        stmt = stmt.where(WorkflowInstance.id < before)
    rows, last_id = [], None
    for instance in db.session.execute(stmt.limit(SCAN)).scalars():
        last_id = instance.id
        if visibility.can_view(db.session, instance, actor, catalog):
            view = visibility.data_for(db.session, instance, actor, catalog)
            rows.append(
                {
                    "instance": instance,
                    "data": view,
                    "definition": catalog.get(instance.definition, instance.definition_version),
                }
            )
            if len(rows) == PAGE:
                break
    more = (
        last_id is not None
        and db.session.execute(stmt.where(WorkflowInstance.id < last_id).limit(1)).first()
        is not None
    )
    args = {
        k: v
        for k, v in {
            "definition": definition,
            "state": state,
            "open": "1" if open_only else "0",
        }.items()
        if v
    }
    prefetch_subject_names([r["instance"] for r in rows])
    return render_template(
        "cases.html",
        rows=rows,
        definitions=catalog.latest(),
        filters={"definition": definition, "state": state, "open": open_only},
        next_url=url_for("console.cases", before=last_id, **args) if more else None,
    )


@blp.get("/changes")
def changes() -> Response:
    return redirect(url_for("console.cases", definition=CHANGE_REQUESTS, open="0"))
