"""A client typed in traditional script whose name is on the blacklist (without a credit
code) reaches a risk officer with the hit and its path; the officer confirms it from the
case page and the client is rejected and blacklisted."""

from __future__ import annotations

from tests.support.browser import settle


def test_a_risk_officer_confirms_a_possible_watch_list_match(sign_in, live) -> None:  # noqa: ANN001
    from api.extensions import db
    from workflow.records.identity import Actor
    from workflow.risk import onboarding
    from workflow.risk.clients import service as client_service
    from workflow.risk.clients.model import Client
    from workflow.risk.screening.watchlist import import_watchlist

    sales = Actor("sales1", frozenset({"sales"}))
    with live.app.app_context():
        import_watchlist(
            db.session,
            [
                {
                    "credit_code": "",
                    "name": "深圳华强科技有限公司",
                    "list": "blacklist",
                    "reason": "合同诈骗",
                }
            ],
            Actor.system("test"),
            source="blacklist.csv",
        )
        client = client_service.create_client(
            db.session,
            {
                "name": "深圳市華強科技有限公司",
                "credit_code": "91440300MA5D00017Q",
                "registered_capital": "30000000",
            },
            sales,
        )
        onboarding.start_admission(db.session, client.id, sales)
        db.session.commit()
        client_id = client.id
    settle(live)

    risk = sign_in("risk1")
    page = risk.page
    page.reload()
    page.locator("table.inbox tr", has_text="客户准入").first.locator("a").first.click()
    page.wait_for_selector("table.matches")
    assert "名单疑似命中复核" in page.inner_text("h1")
    row = page.inner_text("table.matches tbody tr")
    assert "深圳华强科技有限公司" in row and "繁简转换" in row and "黑名单" in row
    risk.shot("case-onboarding-name-review-zh")
    page.click("summary[data-action=confirm_match]")
    page.fill("form[data-action-form=confirm_match] textarea[name=comment]", "同一企业更名重新注册")
    page.click("form[data-action-form=confirm_match] button[type=submit]")
    page.wait_for_selector(".flash.ok")

    assert "已拒绝" in page.inner_text("h1")
    with live.app.app_context():
        assert db.session.get(Client, client_id).blacklisted is True
    assert risk.errors == [] and risk.only_local_requests()
