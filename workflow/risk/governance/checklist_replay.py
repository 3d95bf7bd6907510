"""A due-diligence checklist replayed on the open cases, read only.

``submit_for_review`` requires exactly the checklist's items (``validate_checklist``):
a case that already holds a checklist (under review, or sent back) would miss every
item the candidate adds and be refused for every item it drops. Cases that hold none
yet fill in whatever checklist is active when they submit.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.records.models import WorkflowInstance
from workflow.risk.due_diligence.review import DEFINITION
from workflow.risk.governance.candidate import settings_document

CHUNK = 500
MAX_LISTED = 200
LANGUAGES = ("zh-CN", "en")


def parse_checklist(content: bytes) -> dict[str, Any]:
    """The candidate's ``checklist`` (item → labels), bare or under ``settings:``.

    Raises:
        ValueError: not YAML, or not a checklist (the key named).
    """
    document = settings_document(content)
    checklist = document.get("checklist") if isinstance(document, Mapping) else None
    if not isinstance(checklist, Mapping) or not checklist:
        raise ValueError("checklist: must be a non-empty mapping of item to labels")
    for item, labels in checklist.items():
        if not isinstance(item, str) or not item.isidentifier():
            raise ValueError(f"checklist.{item}: an item key is a word such as legal_records")
        if not isinstance(labels, Mapping) or any(
            not isinstance(labels.get(lang), str) or not labels[lang].strip() for lang in LANGUAGES
        ):
            raise ValueError(f"checklist.{item}: give the label in zh-CN and en")
    return dict(checklist)


def replay_checklist(
    session: Session,
    candidate: Mapping[str, Any],
    active: Mapping[str, Any],
    progress: Callable[[int, int], None] | None = None,
) -> dict[str, Any]:
    """Which open due-diligence cases would miss (or hold unknown) checklist items."""
    rows = session.execute(
        select(
            WorkflowInstance.id,
            WorkflowInstance.subject_id,
            WorkflowInstance.state,
            WorkflowInstance.data,
        )
        .where(WorkflowInstance.definition == DEFINITION, WorkflowInstance.is_open.is_(True))
        .order_by(WorkflowInstance.id)
    ).all()
    wanted = {"active": set(active), "candidate": set(candidate)}
    affected: list[dict[str, Any]] = []
    counts = {"with_checklist": 0, "without_checklist": 0, "affected": 0, "affected_now": 0}
    for start in range(0, len(rows), CHUNK):
        for row in rows[start : start + CHUNK]:
            held = (row.data or {}).get("checklist")
            if not isinstance(held, Mapping) or not held:
                counts["without_checklist"] += 1
                continue
            counts["with_checklist"] += 1
            missing = sorted(wanted["candidate"] - set(held))
            unknown = sorted(set(held) - wanted["candidate"])
            if set(held) != wanted["active"]:
                counts["affected_now"] += 1
            if not (missing or unknown):
                continue
            counts["affected"] += 1
            if len(affected) < MAX_LISTED:
                affected.append(
                    {
                        "instance_id": row.id,
                        "client_id": row.subject_id,
                        "state": row.state,
                        "missing": missing,
                        "unknown": unknown,
                    }
                )
        if progress is not None:
            progress(min(start + CHUNK, len(rows)), len(rows))
    return {
        "open_cases": len(rows),
        "items_added": sorted(wanted["candidate"] - wanted["active"]),
        "items_removed": sorted(wanted["active"] - wanted["candidate"]),
        "cases_with_checklist": counts["with_checklist"],
        "cases_without_checklist": counts["without_checklist"],
        "cases_affected": counts["affected"],
        "cases_affected_by_active": counts["affected_now"],
        "affected": affected,
    }
