"""SLA countdowns tick in the browser (console.js) and turn red once breached."""

from __future__ import annotations

from datetime import timedelta

from api.extensions import db
from tests.support.browser import submitted_case
from workflow.platform import clock
from workflow.records.models import WorkflowInstance


def due_in(live, case_id: int, seconds: int) -> None:  # noqa: ANN001
    with live.app.app_context():
        instance = db.session.get(WorkflowInstance, case_id)
        instance.sla_due_at = clock.now() + timedelta(seconds=seconds)
        db.session.commit()


def test_the_sla_countdown_ticks_and_turns_red_when_breached(sign_in, live) -> None:  # noqa: ANN001
    case_id = submitted_case(live)
    risk = sign_in("risk1")  # signing in first: the margin below covers only the page's load
    page = risk.page
    due_in(live, case_id, 6)
    page.reload()
    cell = f"tr:has(a[href='/cases/{case_id}']) td.sla"
    first = page.inner_text(cell)
    assert "剩余" in first and "red" not in (page.get_attribute(cell, "class") or "")
    page.wait_for_function(
        "([sel, text]) => document.querySelector(sel).textContent !== text", arg=[cell, first]
    )
    page.wait_for_selector(f"{cell}.red")
    assert "已超时" in page.inner_text(cell)
    assert page.locator(f"tr.breached:has(a[href='/cases/{case_id}'])").count() == 1

    # The case page counts down the same way, in English too.
    english = sign_in("risk2", lang="en")
    due_in(live, case_id, 6)
    english.goto(f"/cases/{case_id}")
    sla = "dd.sla[data-seconds]"
    assert "left" in english.page.inner_text(sla)
    english.page.wait_for_selector(f"{sla}.red")
    assert "overdue" in english.page.inner_text(sla)
    assert risk.errors == [] and english.errors == []
