"""Governed configuration in the console: the kinds with their active versions, and an
editor that files a draft (validated on the server: every problem named with its key and
worded in the reader's language, ``web/config_problems.py``);
the backtest, diff and approval follow on the ``config_change`` case.

While the drafter types, the editor posts its content to ``/config/<kind>/check``
(``changes.check_draft``: the validation and diff filing uses, nothing stored) and shows
every problem, or "valid" with the diff against the active version, beside it.

The change's case page shows its backtest (``web/backtest_view.py``); until it finishes,
the page polls ``/config/changes/<id>/backtest`` (the readers of configuration, as the
API's progress) for done of total and the phase, then the report and its hash, or why it
failed."""

from __future__ import annotations

from typing import Any

from flask import flash, g, redirect, render_template, request, url_for
from flask_babel import gettext as _
from werkzeug.wrappers import Response

from workflow.errors import ValidationFailed
from workflow.platform.transaction import transact
from workflow.records import config_versions as versions
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk.governance import changes, progress

from ..backtest_view import backtest_view
from ..config_change_view import diff_lines
from ..config_problems import problem_text
from ..console import blp, current_actor
from ..database import db, runtime_of
from ..refusals import Refusal, refusal


def _file_draft(kind: str, actor: Actor) -> WorkflowInstance:
    form = request.form
    return changes.draft_change(
        db.session,
        kind,
        form.get("content", ""),
        form.get("reason", ""),
        actor,
        request_id=g.get("request_id"),
    )


@blp.get("/config")
def configuration() -> str:
    actor = current_actor()
    changes.may_read(actor)
    kinds = changes.all_kinds(runtime_of().catalog)
    rows = transact(db.session, lambda: [changes.current(db.session, k) for k in kinds])
    return render_template("config.html", rows=rows)


@blp.route("/config/<kind>", methods=["GET", "POST"])
def config_kind(kind: str) -> Response | tuple[str, int]:
    actor = current_actor()
    changes.may_read(actor)
    found = changes.kind_named(kind, runtime_of().catalog)
    active = transact(db.session, lambda: changes.current(db.session, found))
    problems: list[dict[str, Any]] = []
    message: Refusal | None = None
    status = 200
    content = active.content
    if request.method == "POST":
        content = request.form.get("content", "")
        try:
            case = transact(db.session, lambda: _file_draft(kind, actor))
        except ValidationFailed as exc:
            problems = list((exc.extra.get("errors") or {}).get("content") or [])
            message, status = refusal(exc), exc.status
        else:
            flash(
                _("Draft #%(id)s filed; it is backtested, then a manager approves it.", id=case.id),
                "ok",
            )
            return redirect(url_for("console.case", instance_id=case.id))
    return render_template(
        "config_kind.html",
        active=active,
        history=versions.history(db.session, kind),
        content=content,
        reason=request.form.get("reason", ""),
        problems=problems,
        problem_text=problem_text,
        message=message,
        may_draft=actor.has_any(changes.drafters(kind)),
    ), status


@blp.post("/config/<kind>/check")
def config_check(kind: str) -> str:
    """The live check beside the editor: the same roles as filing (checked before the body
    is read), every problem or "valid" with the diff; nothing is stored."""
    found = changes.may_draft(current_actor(), kind, runtime_of().catalog)
    content = request.form.get("content", "")
    check = transact(db.session, lambda: changes.check_draft(db.session, found, content))
    return render_template(
        "_config_check.html",
        check=check,
        problem_text=problem_text,
        diff=diff_lines(check.diff),
    )


@blp.get("/config/changes/<int:change_id>/backtest")
def config_backtest(change_id: int) -> str:
    """The change's backtest as a fragment of its case page, polled while it runs: the
    readers of configuration (as ``GET /api/v1/config/changes/{id}/progress``), 404 for
    anything but a configuration change."""
    changes.may_read(current_actor())

    def read() -> Any:
        progress.of_change(db.session, change_id)  # NotFound unless a config_change
        return backtest_view(db.session, db.session.get(WorkflowInstance, change_id))

    view = transact(db.session, read)
    return render_template("_backtest.html", bt=view, polled=bool(request.args.get("polled")))
