"""A change to a sensitive field needs two different approvers; the diff is shown before/after."""

from __future__ import annotations

from api.extensions import db
from tests.support.browser import active_client
from workflow.risk.clients.model import Client


def test_a_sensitive_edit_needs_two_approvers(sign_in, live) -> None:  # noqa: ANN001
    client_id = active_client(live, "苏州双审示例有限公司", "91110108MA01AB123T")
    sales = sign_in("sales1")
    sales.goto(f"/clients/{client_id}")
    sales.page.click(f"a[href='/clients/{client_id}/changes/new']")
    sales.page.fill("input[name=change_legal_representative]", "钱七")
    sales.page.fill("textarea[name=reason]", "法定代表人变更，已取得工商变更登记")
    sales.shot("change-request-new-zh")
    sales.page.click("form.client-form button[type=submit]")
    sales.page.wait_for_selector("table[data-diff]")
    case_url = sales.page.url
    assert "钱七" in sales.page.inner_text("table[data-diff] td.after")

    first = sign_in("risk1")
    first.goto(case_url.removeprefix(live.url))
    first.page.click("summary[data-action=approve]")
    first.page.fill("form[data-action-form=approve] textarea[name=comment]", "材料核对无误")
    first.page.click("form[data-action-form=approve] button[type=submit]")
    first.page.wait_for_selector(".flash.ok")
    assert (
        first.page.locator("summary[data-action=approve]").count() == 0
    )  # not twice by one person
    first.shot("change-request-first-approval-zh")
    with live.app.app_context():
        assert db.session.get(Client, client_id).legal_representative != "钱七"

    second = sign_in("legal1")
    second.goto(case_url.removeprefix(live.url))
    second.page.click("summary[data-action=approve]")
    second.page.click("form[data-action-form=approve] button[type=submit]")
    second.page.wait_for_selector(".flash.ok")
    second.shot("change-request-approved-zh")
    with live.app.app_context():
        assert db.session.get(Client, client_id).legal_representative == "钱七"
    second.goto(f"/clients/{client_id}")
    assert "钱七" in second.page.inner_text("dl.data")
    assert first.errors == [] and second.errors == [] and sales.errors == []
