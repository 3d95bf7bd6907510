"""The console's generic parts in a real browser: sign-in, inbox, case page, languages."""

from __future__ import annotations

from tests.support.browser import submitted_case


def test_a_risk_officer_approves_from_the_inbox_on_the_case_page(sign_in, live) -> None:  # noqa: ANN001
    case_id = submitted_case(live)
    risk = sign_in("risk1")
    page = risk.page
    page.wait_for_selector("nav.main .badge[data-count]")
    assert page.inner_text("nav.main .badge") != "0"
    risk.shot("inbox-zh")
    page.click(f"a[href='/cases/{case_id}']")
    page.wait_for_selector("pre.mermaid[data-processed] svg")
    assert page.locator("pre.mermaid svg g.current, pre.mermaid svg .current").count() >= 1
    risk.shot("case-pending-zh")
    page.click("summary[data-action=approve]")
    page.fill("form[data-action-form=approve] input[name=p_amount]", "800000")
    page.fill("form[data-action-form=approve] textarea[name=comment]", "资料齐全，同意准入")
    page.click("form[data-action-form=approve] button[type=submit]")
    page.wait_for_selector(".flash.ok")
    assert "已批准" in page.inner_text("h1")
    assert "资料齐全，同意准入" in page.inner_text("ol.timeline")
    risk.shot("case-approved-zh")
    assert risk.errors == [] and risk.only_local_requests()


def test_someone_acting_first_is_shown_with_a_reload_link(sign_in, live) -> None:  # noqa: ANN001
    case_id = submitted_case(live)
    first, second = sign_in("risk1"), sign_in("risk2")
    for user in (first, second):
        user.goto(f"/cases/{case_id}")
        user.page.click("summary[data-action=approve]")
        user.page.fill("form[data-action-form=approve] input[name=p_amount]", "10")
    first.page.click("form[data-action-form=approve] button[type=submit]")
    first.page.wait_for_selector(".flash.ok")
    second.page.click("form[data-action-form=approve] button[type=submit]")
    second.page.wait_for_selector(".flash.conflict")
    assert "已有人先处理" in second.page.inner_text(".flash.conflict")
    second.shot("case-conflict-zh")


def test_the_console_speaks_english_when_asked(sign_in, live) -> None:  # noqa: ANN001
    case_id = submitted_case(live)
    risk = sign_in("risk2", lang="en")
    assert "My inbox" in risk.page.inner_text("nav.main")
    risk.goto(f"/cases/{case_id}")
    risk.page.wait_for_selector("pre.mermaid[data-processed] svg")
    assert "Pending" in risk.page.inner_text("h1")
    risk.shot("case-pending-en")
    risk.goto("/cases/99999999")
    assert "Not found" in risk.page.inner_text("h1")
    risk.shot("error-404-en")
