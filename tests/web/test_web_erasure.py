"""Erasure in the console (zh-CN): legal requests it from the client page, a manager
approves it on the case, and the page then says the personal data was erased, and when."""

from __future__ import annotations

from flask import Flask

from tests.support.console import FORM, client_row
from workflow.risk.erasure import placeholder_name


def test_legal_requests_an_erasure_a_manager_approves_and_the_page_says_so(
    console_factory, app: Flask
) -> None:
    console_factory("sales1").post("/clients/new", {**FORM, "submit_for_admission": "0"})
    row = client_row(app)
    assert row is not None
    client_id = row.id
    legal, manager = console_factory("legal1"), console_factory("manager1")
    page = legal.get(f"/clients/{client_id}").get_data(as_text=True)
    assert "删除个人信息（个保法）" in page and "data-request-erasure" in page
    # sales have no such form, and the route refuses them before reading the form
    sales_page = console_factory("sales1").get(f"/clients/{client_id}").get_data(as_text=True)
    assert "data-request-erasure" not in sales_page
    path = f"/clients/{client_id}/erasure"
    assert console_factory("sales1").post(path, {"reason": "x"}).status_code == 403
    assert legal.post(path, {"reason": "x"}, csrf=False).status_code == 400
    response = legal.post(path, {"reason": "本人撤回同意"})
    assert response.status_code == 302 and response.headers["Location"].startswith("/cases/")
    case_path = response.headers["Location"]
    # a second request is refused in words
    again = legal.post(path, {"reason": "再次申请"})
    assert again.status_code == 409
    assert "尚在审批中" in again.get_data(as_text=True)
    approved = manager.post(f"{case_path}/actions/approve", {"comment": "同意"})
    assert approved.status_code in (200, 302), approved.get_data(as_text=True)
    page = manager.get(f"/clients/{client_id}").get_data(as_text=True)
    assert "个人信息已于" in page and "data-erased" in page
    assert placeholder_name(client_id) in page
    assert "data-request-erasure" not in page
