"""My inbox: cases I can act on now, most urgent first, with SLA countdowns."""

from __future__ import annotations

from typing import Any

from flask import render_template, request

from workflow.engine.inbox import inbox as inbox_service
from workflow.platform import clock

from ..console import blp, current_actor
from ..database import db, runtime_of
from ..display import prefetch_subject_names

LIMIT = 200


def _rows(definition: str | None) -> list[dict[str, Any]]:
    catalog = runtime_of().catalog
    rows = []
    for instance, actions in inbox_service(
        db.session, catalog, current_actor(), limit=LIMIT, definition=definition
    ):
        spec = catalog.get(instance.definition, instance.definition_version)
        rows.append(
            {
                "instance": instance,
                "definition": spec,
                "actions": actions,
                "state": spec.states[instance.state],
            }
        )
    return rows


@blp.get("/inbox")
def inbox() -> str:
    definition = request.args.get("definition") or None
    overdue_only = request.args.get("overdue") == "1"
    level = request.args.get("level") or None
    rows = _rows(definition)
    if overdue_only:
        rows = [r for r in rows if r["instance"].breached or _overdue(r["instance"])]
    if level:
        rows = [r for r in rows if (r["instance"].data or {}).get("level") == level]
    catalog = runtime_of().catalog
    prefetch_subject_names([r["instance"] for r in rows])
    template = (
        "_inbox_rows.html"
        if request.headers.get("HX-Request") and request.headers.get("HX-Target") == "inbox-rows"
        else "inbox.html"
    )
    return render_template(
        template,
        rows=rows,
        definitions=catalog.latest(),
        filters={"definition": definition, "overdue": overdue_only, "level": level},
    )


def _overdue(instance: Any) -> bool:
    return instance.sla_due_at is not None and instance.sla_due_at < clock.now()


@blp.get("/inbox/count")
def inbox_count() -> str:
    rows = _rows(None)
    overdue = sum(1 for r in rows if r["instance"].breached or _overdue(r["instance"]))
    return render_template("_inbox_count.html", count=len(rows), overdue=overdue)
