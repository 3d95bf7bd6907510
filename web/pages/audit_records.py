"""Audit search for auditors: records matching every filter (who, which case or client,
which action or event, when), newest first, each opening its case — the same
``audit_search.search`` as ``GET /api/v1/audit``."""

from __future__ import annotations

from datetime import datetime, timedelta
from typing import Any

from flask import render_template, request, url_for

from workflow.audit import search as audit_search
from workflow.errors import NotFound, ValidationFailed
from workflow.platform.hygiene import day_problem, whole_number
from workflow.risk import labels

from ..console import blp, current_actor
from ..database import db, runtime_of

PAGE = 100
NUMBERS = ("instance_id", "client_id")
TEXTS = ("actor", "trigger", "kind")


def search_filters(
    numbers: tuple[str, ...] = NUMBERS, texts: tuple[str, ...] = TEXTS
) -> tuple[dict[str, str], dict[str, Any]]:
    """The search form's values as typed and the service's filter: ``numbers`` as positive
    whole numbers, ``texts`` as typed, ``since``/``until`` as days (a bad value is a 422
    naming it)."""
    typed = {k: (request.args.get(k) or "").strip() for k in (*numbers, *texts, "since", "until")}
    where: dict[str, Any] = {k: typed[k] for k in texts if typed[k]}
    for name in numbers:
        if typed[name]:
            number = whole_number(typed[name])
            if number is None or not 0 < number < 2**62:
                raise ValidationFailed(
                    f"{name} must be a positive whole number",
                    errors={name: ["Must be a positive whole number."]},
                )
            where[name] = number
    for name in ("since", "until"):
        if typed[name]:
            try:
                day = datetime.strptime(typed[name], "%Y-%m-%d")
            except ValueError as exc:
                raise ValidationFailed(
                    f"{name} must be a date (YYYY-MM-DD)", errors={name: ["Use YYYY-MM-DD."]}
                ) from exc
            if (problem := day_problem(day.date())) is not None:
                raise ValidationFailed(f"{name}: {problem}", errors={name: [problem]})
            where[name] = day + timedelta(days=1) if name == "until" else day  # until: whole day
    return typed, where


@blp.get("/audit/records")
def audit_records() -> str:
    actor = current_actor()
    typed, where = search_filters()
    rows, next_cursor = audit_search.search(
        db.session,
        actor,
        audit_search.AuditFilter(**where),
        limit=PAGE,
        cursor=request.args.get("cursor") or None,
        newest_first=True,
    )
    catalog = runtime_of().catalog
    definitions = {}
    for row in rows:
        key = (row.definition, row.definition_version)
        if row.definition and key not in definitions:
            try:
                definitions[key] = catalog.get(row.definition, row.definition_version)
            except NotFound:  # a definition no longer loaded still lists its records
                definitions[key] = None
    next_url = (
        url_for(
            "console.audit_records", cursor=next_cursor, **{k: v for k, v in typed.items() if v}
        )
        if next_cursor
        else None
    )
    return render_template(
        "audit_records.html",
        rows=rows,
        filters=typed,
        definitions=definitions,
        next_url=next_url,
        searched=any(typed.values()),
        kinds=list(labels.EVENTS),
    )
