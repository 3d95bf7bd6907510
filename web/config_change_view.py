"""A configuration change as its case page shows it, instead of the generic case data:
the kind in words (with a link to the kind's page), the version it would become over the
active one it was drafted against, maker and reason, the content hash a manager approves,
the diff against the active version line by line (added and removed lines coloured, as
the editor's live check shows it) and the full candidate content as code.

What the ``config_change`` case keeps in ``data`` is written by
``workflow.risk.governance.changes.draft_change``; its backtest is ``web/backtest_view.py``.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.governance import changes, progress

DEFINITION = progress.DEFINITION


def diff_lines(diff: str) -> list[tuple[str, str]]:
    """Each line of a unified diff with its class: ``add``, ``del``, ``hunk`` or ``same``."""
    lines: list[tuple[str, str]] = []
    for line in diff.splitlines():
        if line.startswith(("+++", "---", "@@")):
            lines.append(("hunk", line))
        elif line.startswith("+"):
            lines.append(("add", line))
        elif line.startswith("-"):
            lines.append(("del", line))
        else:
            lines.append(("same", line))
    return lines


@dataclass(frozen=True)
class ChangeView:
    """What the case page shows of one configuration change."""

    kind: str
    version: int | None
    base_version: int | None
    maker: str
    reason: str
    content_hash: str
    content: str
    diff: list[tuple[str, str]]
    activated_version: int | None = None
    kind_readable: bool = False  # whether the reader may open the kind's page
    shipped_from: str | None = None  # the file a deployment shipped (maker system:deployment)


def _int(value: object) -> int | None:
    try:
        return int(value)  # type: ignore[call-overload]
    except (TypeError, ValueError):
        return None


def change_view(
    instance: WorkflowInstance, data: dict[str, Any], actor: Actor
) -> ChangeView | None:
    """The change's view for ``actor`` from its ``data`` as ``actor`` may see it (the
    case's presented data); None for any other kind of case."""
    if instance.definition != DEFINITION:
        return None
    return ChangeView(
        kind=str(data.get("kind") or ""),
        version=_int(data.get("version")),
        base_version=_int(data.get("base_version")),
        maker=instance.created_by,
        reason=str(data.get("reason") or ""),
        content_hash=str(data.get("content_hash") or ""),
        content=str(data.get("content") or ""),
        diff=diff_lines(str(data.get("diff") or "")),
        activated_version=_int(data.get("activated_version")),
        kind_readable=actor.has_any(changes.READER_ROLES),
        shipped_from=str(data["shipped_from"]) if data.get("shipped_from") else None,
    )
