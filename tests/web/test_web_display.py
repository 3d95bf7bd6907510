"""What people read on the console's pages: case data worded in their language (no raw keys,
no JSON with escaped Chinese), cases named by their client, the credit code field's own
attributes intact, and the navigation marking the area the page belongs to."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from api.extensions import db, runtime_of
from tests.support.app import drain
from workflow.engine import firing as engine
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance
from workflow.risk import onboarding, sensitive_edit
from workflow.risk.clients import service as client_service

SALES = Actor("sales1", frozenset({"sales"}))
RISK = Actor("risk1", frozenset({"risk_officer"}))
NAME = "杭州显示示例有限公司"


def returned_case(app: Flask) -> tuple[int, int]:
    """An admission a risk officer returned for information, with a Chinese comment."""
    from workflow.risk.clients.creditcode import make_credit_code

    with app.app_context():
        client = client_service.create_client(
            db.session,
            {
                "name": NAME,
                "credit_code": make_credit_code("91330100MA2CD0001"),
                "registered_capital": "30000000",
                "facts": {
                    "litigation_count": 0,
                    "negative_news_count": 0,
                    "payment_history": "good",
                },
            },
            SALES,
        )
        case = onboarding.start_admission(db.session, client.id, SALES)
        db.session.commit()
        client_id, case_id = client.id, case.id
    for _ in range(5):
        if drain(app) == 0:
            break
    with app.app_context():
        assert db.session.get(WorkflowInstance, case_id).state == "risk_review"
        engine.fire(db.session, case_id, "return_for_info", RISK, comment="请补充近三年财报")
        db.session.commit()
    return client_id, case_id


@pytest.mark.parametrize(
    ("lang", "words", "absent"),
    [
        (
            "zh_CN",
            ("客户名称", "退回补充记录", "操作人", "请补充近三年财报", "时间"),
            ("returned_for_info", "client_name"),
        ),
        (
            "en",
            ("Client name", "Returned for information", "By", "At"),
            ("returned_for_info", "client_name"),
        ),
    ],
)
def test_case_data_is_worded_and_readable(
    console_factory, app: Flask, lang: str, words: tuple[str, ...], absent: tuple[str, ...]
) -> None:
    client_id, case_id = returned_case(app)
    sales = console_factory()
    sales.post("/language", {"lang": lang, "next": "/login"}, token_from="/login")
    assert sales.login("sales1").status_code == 302
    page = sales.get(f"/cases/{case_id}").get_data(as_text=True)
    data = page[page.index('<dl class="data">') :]
    data = data[: data.index("</section>")]
    text = re.sub(r"<[^>]+>", " ", data)
    for word in words:
        assert word in text, (word, text)
    for raw in absent:
        assert raw not in text, (raw, text)
    assert "\\u" not in data and "{&#34;" not in data and '{"' not in text  # no JSON dump
    assert "2026-" not in text or lang == "en"  # times in the reader's format, not ISO
    assert f'href="/clients/{client_id}"' in data


def test_cases_are_named_by_their_client(console_factory, app: Flask) -> None:
    client_id, _case = returned_case(app)
    with app.app_context():
        request = sensitive_edit.request_sensitive_edit(
            db.session, client_id, {"bank_account": "6222020000111122229"}, "开户行变更", SALES
        )
        db.session.commit()
        request_id = request.id
    risk = console_factory("risk1")
    inbox = risk.get("/inbox").get_data(as_text=True)
    row = re.search(rf'<tr[^>]*>\s*<td><a href="/cases/{request_id}">.*?</tr>', inbox, re.S)
    assert row is not None and NAME in row.group(0) and "client " not in row.group(0)
    changes = risk.get("/cases?definition=sensitive_edit&open=0").get_data(as_text=True)
    assert NAME in changes and "银行账号" in changes and "bank_account" not in changes


def test_the_change_request_list_lights_its_own_navigation_entry(console_factory) -> None:
    risk = console_factory("risk1")
    page = risk.get("/cases?definition=sensitive_edit&open=0").get_data(as_text=True)
    assert re.search(r'href="/changes"[^>]*class="on"', page)
    assert not re.search(r'href="/cases"[^>]*class="on"', page)
    page = risk.get("/cases").get_data(as_text=True)
    assert re.search(r'href="/cases"[^>]*class="on"', page)
    assert not re.search(r'href="/changes"[^>]*class="on"', page)


def test_the_credit_code_field_keeps_its_attributes(console_factory) -> None:
    page = console_factory("sales1").get("/clients/new").get_data(as_text=True)
    field = re.search(r'<input name="credit_code"[^>]*>', page)
    assert field is not None
    assert 'maxlength="18"' in field.group(0) and 'minlength="18"' in field.group(0)
    assert "&quot;" not in field.group(0) and "&#34;" not in field.group(0)
    assert 'data-credit-code="校验码（第18位）不匹配，请检查是否输错。"' in field.group(0)
    assert "data-live-error" in page  # the browser check's message is shown beside the field


def test_related_cases_and_the_second_approval_are_worded(console_factory, app: Flask) -> None:
    from web.i18n import action_label
    from workflow.risk.clients.creditcode import make_credit_code

    with app.app_context():
        client = client_service.create_client(
            db.session,
            {
                "name": "温州尽调示例有限公司",
                "credit_code": make_credit_code("91330300MA2DD0001"),
                "registered_capital": "12000000",
                "facts": {
                    "litigation_count": 3,
                    "negative_news_count": 2,
                    "payment_history": "minor_delays",
                },
            },
            SALES,
        )
        case = onboarding.start_admission(db.session, client.id, SALES)
        db.session.commit()
        case_id = case.id
    for _ in range(5):
        if drain(app) == 0:
            break
    page = console_factory("risk1").get(f"/cases/{case_id}").get_data(as_text=True)
    related = page[page.index('<ul class="plain">') :]
    related = related[: related.index("</ul>")]
    assert "尽职调查" in related and "已开立" in related and "due_diligence" not in related
    with app.test_request_context(headers={"Accept-Language": "en"}):
        onboarding_def = runtime_of(app).catalog.get("client_onboarding")
        first = action_label(onboarding_def, "dual_approval", "approve", "dual_approval")
        second = action_label(onboarding_def, "dual_approval", "approve", "approved")
        assert first != second  # the timeline names the second approval as such


def test_an_alert_is_raised_from_the_clients_page(console_factory, app: Flask) -> None:
    client_id, _case = returned_case(app)
    risk = console_factory("risk1")
    page = risk.get(f"/clients/{client_id}").get_data(as_text=True)
    assert f'href="/alerts?client_id={client_id}#raise" data-raise-alert' in page
    board = risk.get(f"/alerts?client_id={client_id}").get_data(as_text=True)
    assert re.search(r'<details class="card" id="raise"\s+open>', board)
    assert re.search(rf'name="client_id" type="number" min="1" required value="{client_id}"', board)
    assert "data-raise-alert" not in console_factory("sales1").get(
        f"/clients/{client_id}"
    ).get_data(as_text=True)


def test_the_inbox_reads_the_names_of_its_clients_in_one_query(console_factory, app: Flask) -> None:
    from sqlalchemy import event

    from api.extensions import db as _db
    from workflow.engine import firing as wf_engine
    from workflow.records.identity import Actor
    from workflow.risk.clients.model import Client

    sales = Actor("sales1", frozenset({"sales"}))
    with app.app_context():
        for n in range(4):
            client = Client(
                name=f"名单客户 {n}",
                credit_code=f"91310000MA1K{n:06d}",
                owner="sales1",
                created_by="sales1",
                status="prospect",
                version=1,
                tags=[],
                contracts=[],
                facts={},
                blacklisted=False,
            )
            _db.session.add(client)
            _db.session.flush()
            case = wf_engine.start(
                _db.session, "test_approval", sales, subject_type="client", subject_id=client.id
            )
            wf_engine.fire(_db.session, case.id, "submit", sales)
        _db.session.commit()
        statements: list[str] = []
        listen = lambda *a: statements.append(a[2])  # noqa: E731  (before_cursor_execute's statement)
        event.listen(_db.engine, "before_cursor_execute", listen)
    try:
        page = console_factory("risk1").get("/inbox").get_data(as_text=True)
    finally:
        with app.app_context():
            event.remove(_db.engine, "before_cursor_execute", listen)
    assert all(f"名单客户 {n}" in page for n in range(4))
    name_reads = [s for s in statements if "clients.name" in s]
    assert len(name_reads) == 1, name_reads
