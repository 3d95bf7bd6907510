"""The access log for auditors and managers: who read which client records, when, through
which door and from which address, and which sensitive fields they saw unmasked — the same
``reads.search_reads`` as ``GET /api/v1/audit/reads``."""

from __future__ import annotations

from flask import render_template, request, url_for

from workflow.risk.privacy import reads as client_reads

from ..console import blp, current_actor
from ..database import db
from .audit_records import search_filters

PAGE = 100


@blp.get("/audit/reads")
def audit_reads() -> str:
    client_reads.require_read_auditor(current_actor())
    typed, where = search_filters(numbers=("client_id",), texts=("username",))
    cursor = request.args.get("cursor", type=int)
    rows, next_cursor = client_reads.search_reads(
        db.session, client_reads.ReadFilter(**where), limit=PAGE, before_id=cursor
    )
    next_url = (
        url_for("console.audit_reads", cursor=next_cursor, **{k: v for k, v in typed.items() if v})
        if next_cursor
        else None
    )
    return render_template(
        "audit_reads.html",
        rows=[client_reads.read_view(r) for r in rows],
        filters=typed,
        next_url=next_url,
        searched=any(typed.values()),
    )
