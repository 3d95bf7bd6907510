"""Workflow definitions: versions, states, transitions and the state diagram."""

from __future__ import annotations

from typing import Any

from flask.views import MethodView

from workflow.engine.definitions import Definition
from workflow.engine.machine import mermaid

from ..authorization import allow, signed_in
from ..extensions import runtime_of
from ..request_shape import Blueprint
from ..schemas import DefinitionDetail, DefinitionQuery, DefinitionSummary
from ..security import BEARER, protect

blp = protect(
    Blueprint(
        "definitions",
        __name__,
        url_prefix="/api/v1/definitions",
        description="Workflow definitions",
    )
)


def summary(definition: Definition) -> dict[str, Any]:
    catalog = runtime_of().catalog
    return {
        "name": definition.name,
        "version": definition.version,
        # a shipped file waiting for a manager's approval is no version yet
        "versions": [
            d.version for d in catalog.versions(definition.name) if not catalog.is_pending(d)
        ],
        "title": definition.title,
        "subject": definition.subject,
        "content_hash": definition.content_hash,
    }


@blp.route("")
class DefinitionList(MethodView):
    @allow(signed_in)
    @blp.doc(security=[BEARER])
    @blp.response(200, DefinitionSummary(many=True))
    def get(self) -> list[dict[str, Any]]:
        """Every workflow definition at its latest version."""
        return [summary(d) for d in runtime_of().catalog.latest()]


@blp.route("/<string:name>")
class DefinitionView(MethodView):
    @allow(signed_in)
    @blp.doc(security=[BEARER])
    @blp.arguments(DefinitionQuery, location="query")
    @blp.response(200, DefinitionDetail)
    def get(self, query: dict[str, Any], name: str) -> dict[str, Any]:
        """A definition (latest or ``?version=``) with its Mermaid diagram."""
        definition = runtime_of().catalog.get(name, query.get("version"))
        return {
            **summary(definition),
            "initial": definition.initial,
            "states": [
                {
                    "name": s.name,
                    "label": s.label,
                    "final": s.final,
                    "sla_seconds": int(s.sla.total_seconds()) if s.sla else None,
                }
                for s in definition.states.values()
            ],
            "transitions": [
                {
                    "trigger": t.trigger,
                    "sources": list(t.sources),
                    "dest": t.dest,
                    "outcomes": list(t.outcomes),
                    "roles": sorted(t.roles),
                    "guards": [g.name for g in t.guards],
                    "condition": t.condition.source if t.condition else None,
                    "payload": t.payload,
                    "label": t.label,
                }
                for t in definition.transitions
            ],
            "timers": [
                {
                    "state": t.state,
                    "after_seconds": int(t.after.total_seconds()),
                    "trigger": t.trigger,
                    "repeat": t.repeat,
                }
                for t in definition.timers
            ],
            "diagram": mermaid(definition, lang=query["lang"]),
        }
