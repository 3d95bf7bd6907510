"""The configuration editor's live check in a real Chromium: a risk officer types a broken
rule into the rule set and, without filing anything, sees the problem by key beside the
editor; corrected, the draft shows "valid" and the coloured diff against the active version."""

from __future__ import annotations

from sqlalchemy import func, select

from api.extensions import db
from tests.support.browser import Live
from tests.support.config_changes import SOE_70, SOE_80, soe_threshold_70
from workflow.records.models import WorkflowInstance


def _cases(live: Live) -> int:
    with live.app.app_context():
        return db.session.scalar(select(func.count()).select_from(WorkflowInstance)) or 0


def test_typing_a_broken_rule_shows_its_problem_then_the_diff(sign_in, live: Live) -> None:
    risk = sign_in("risk1")
    page = risk.page
    risk.goto("/config/rule_set")
    editor = page.locator("textarea[data-live-check]")
    content = editor.input_value()
    cases = _cases(live)

    # the drafter types over the first rule's rating D, a key at a time: D → Z
    at = content.index("rating: D") + len("rating: ")
    editor.evaluate("(area, at) => { area.focus(); area.setSelectionRange(at, at + 1); }", at)
    editor.press_sequentially("Z", delay=50)
    page.wait_for_selector("#draft-check [data-problem-key='rating_rules[0].rating']")
    assert "个问题" in page.inner_text("#draft-check")  # worded in the reader's language

    editor.fill(soe_threshold_70(content))
    editor.press("End")
    page.wait_for_selector("#draft-check [data-check='valid']")
    assert SOE_80 in " ".join(page.locator("#draft-diff .del").all_inner_texts())
    assert SOE_70 in " ".join(page.locator("#draft-diff .add").all_inner_texts())
    assert _cases(live) == cases  # checking files nothing
    assert risk.errors == []
