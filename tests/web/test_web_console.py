"""The console's generic parts through Flask's test client: sign-in, CSRF, language,
error pages, inbox and the case page firing real transitions."""

from __future__ import annotations

import re
from datetime import timedelta

from flask import Flask

from api.extensions import db
from tests.support.cases import start_case, state_of
from workflow.platform import clock
from workflow.records.models import AuditRecord, WorkflowInstance


def test_pages_need_a_signed_in_session(console_factory) -> None:
    console = console_factory()
    response = console.get("/inbox")
    assert response.status_code == 302
    assert response.headers["Location"].startswith("/login?next=/inbox")
    assert console.get("/cases/1").status_code == 302


def test_login_is_chinese_by_default_and_refuses_a_missing_csrf_token(console_factory) -> None:
    console = console_factory()
    page = console.get("/login").get_data(as_text=True)
    assert '<html lang="zh-CN">' in page and "登录" in page
    response = console.client.post("/login", data={"username": "sales1", "password": "x"})
    assert response.status_code == 400
    assert "表单已过期" in response.get_data(as_text=True)


def test_wrong_password_is_refused_and_audited(console_factory, app: Flask) -> None:
    console = console_factory()
    response = console.login("sales1", "wrong-password")
    assert response.status_code == 401
    assert "用户名或密码错误" in response.get_data(as_text=True)
    with app.app_context():
        kinds = [r.kind for r in db.session.query(AuditRecord).filter_by(stream="user:sales1")]
    assert "login.failed" in kinds
    assert console.get("/inbox").status_code == 302


def test_login_redirects_only_to_local_paths(console_factory) -> None:
    console = console_factory()
    token = console.csrf()
    response = console.client.post(
        "/login?next=//evil.example/x",
        data={"username": "sales1", "password": "correct-horse-battery", "csrf_token": token},
    )
    assert response.headers["Location"] == "/inbox"


def test_logout_needs_csrf_and_ends_the_session(console_factory) -> None:
    console = console_factory("sales1")
    assert console.post("/logout", csrf=False).status_code == 400
    assert console.get("/inbox").status_code == 200
    assert console.post("/logout").status_code == 302
    assert console.get("/inbox").status_code == 302


def test_the_session_expires(console_factory, app: Flask) -> None:
    console = console_factory("sales1")
    assert console.get("/inbox").status_code == 200
    clock.freeze(clock.now() + timedelta(hours=app.config["RISKLOOP_TOKEN_TTL_HOURS"], minutes=1))
    assert console.get("/inbox").status_code == 302


def test_english_is_selectable_and_kept_after_sign_in(console_factory) -> None:
    console = console_factory()
    token = console.csrf()
    console.client.post("/language", data={"lang": "en", "next": "/login", "csrf_token": token})
    page = console.get("/login").get_data(as_text=True)
    assert '<html lang="en">' in page and "Sign in" in page
    console.login("risk1")
    assert "My inbox" in console.get("/inbox").get_data(as_text=True)


def test_console_errors_are_pages_and_api_errors_stay_problem_documents(console_factory) -> None:
    console = console_factory("sales1")
    missing = console.get("/cases/999999")
    assert missing.status_code == 404 and missing.mimetype == "text/html"
    assert "未找到" in missing.get_data(as_text=True)
    unknown = console.get("/no-such-page", headers={"Accept": "text/html"})
    assert unknown.status_code == 404 and unknown.mimetype == "text/html"
    api = console.get("/api/v1/no-such-thing")
    assert api.status_code == 404 and api.mimetype == "application/problem+json"


def test_pages_have_no_inline_script_and_assets_are_local(console_factory) -> None:
    console = console_factory("risk1")
    response = console.get("/inbox")
    assert "script-src 'self'" in response.headers["Content-Security-Policy"]
    page = response.get_data(as_text=True)
    assert re.search(r"<script(?![^>]*\bsrc=)[^>]*>", page) is None
    assert re.search(r'(src|href)="(https?:)?//', page) is None
    for src in re.findall(r'(?:src|href)="(/console-static/[^"]+)"', page):
        assert console.get(src).status_code == 200, src


def test_inbox_lists_what_i_can_act_on_with_counts(console_factory, app: Flask) -> None:
    case_id = start_case(app)
    risk = console_factory("risk1")
    page = risk.get("/inbox").get_data(as_text=True)
    assert f'href="/cases/{case_id}"' in page and "测试审批" in page and "待审批" in page
    assert 'data-count="1"' in risk.get("/inbox/count").get_data(as_text=True)
    sales = console_factory("sales2")
    assert f'href="/cases/{case_id}"' not in sales.get("/inbox").get_data(as_text=True)
    assert "暂无待办" in sales.get("/inbox").get_data(as_text=True)


def test_inbox_marks_a_breached_sla_red(console_factory, app: Flask) -> None:
    start_case(app)
    clock.freeze(clock.now() + timedelta(hours=49))
    page = console_factory("risk1").get("/inbox?overdue=1").get_data(as_text=True)
    assert 'class="sla red"' in page and "已超时" in page


def test_case_page_shows_diagram_actions_and_timeline(console_factory, app: Flask) -> None:
    case_id = start_case(app)
    page = console_factory("risk1").get(f"/cases/{case_id}").get_data(as_text=True)
    assert "stateDiagram-v2" in page and "class pending current" in page
    assert 'data-action-form="approve"' in page and 'data-action-form="reject"' in page
    assert 'name="p_amount"' in page and 'name="expected_version" value="2"' in page
    assert "sales1" in page and "草稿" in page  # the submit record: who and from-state


def test_an_action_fires_through_the_engine(console_factory, app: Flask) -> None:
    case_id = start_case(app)
    risk = console_factory("risk1")
    response = risk.post(
        f"/cases/{case_id}/actions/approve",
        {"p_amount": "500000", "expected_version": "2", "comment": "同意"},
        token_from=f"/cases/{case_id}",
    )
    assert response.status_code == 302
    assert state_of(app, case_id) == ("approved", 3)
    page = risk.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "同意" in page and "已批准" in page


def test_an_action_without_csrf_changes_nothing(console_factory, app: Flask) -> None:
    case_id = start_case(app)
    response = console_factory("risk1").post(
        f"/cases/{case_id}/actions/approve", {"p_amount": "1", "expected_version": "2"}, csrf=False
    )
    assert response.status_code == 400
    assert state_of(app, case_id) == ("pending", 2)


def test_a_stale_version_says_someone_acted_first(console_factory, app: Flask) -> None:
    case_id = start_case(app)
    response = console_factory("risk1").post(
        f"/cases/{case_id}/actions/approve", {"p_amount": "1", "expected_version": "1"}
    )
    assert response.status_code == 409
    assert "已有人先处理" in response.get_data(as_text=True)
    assert state_of(app, case_id) == ("pending", 2)


def test_the_engine_refuses_what_the_role_may_not_do(console_factory, app: Flask) -> None:
    case_id = start_case(app)
    sales = console_factory("sales1")
    page = sales.get(f"/cases/{case_id}").get_data(as_text=True)
    assert 'data-action-form="approve"' not in page
    response = sales.post(
        f"/cases/{case_id}/actions/approve", {"p_amount": "1", "expected_version": "2"}
    )
    assert response.status_code == 403
    assert state_of(app, case_id) == ("pending", 2)
    other = console_factory("sales2").get(f"/cases/{case_id}")
    assert other.status_code == 404  # not visible to another salesperson


def test_invalid_input_is_shown_beside_the_field(console_factory, app: Flask) -> None:
    case_id = start_case(app)
    risk = console_factory("risk1")
    response = risk.post(f"/cases/{case_id}/actions/reject", {"expected_version": "2"})
    assert response.status_code == 422
    assert "此操作须填写意见" in response.get_data(as_text=True)
    response = risk.post(
        f"/cases/{case_id}/actions/approve", {"p_amount": "abc", "expected_version": "2"}
    )
    assert response.status_code == 422
    assert state_of(app, case_id) == ("pending", 2)


def test_resubmitting_the_same_form_fires_once(console_factory, app: Flask) -> None:
    case_id = start_case(app)
    risk = console_factory("risk1")
    form = {"p_amount": "10", "expected_version": "2", "idempotency_key": "form-1"}
    assert risk.post(f"/cases/{case_id}/actions/approve", form).status_code == 302
    assert risk.post(f"/cases/{case_id}/actions/approve", form).status_code == 302
    assert state_of(app, case_id) == ("approved", 3)


def test_amounts_and_dates_follow_the_language(app: Flask) -> None:
    from datetime import datetime

    from flask import session

    from web.i18n import amount, when

    with app.test_request_context("/"):
        assert amount(1234567.5) == "1,234,567.50 元"
        assert "2026" in when(datetime(2026, 1, 2, 3, 4)) and "年" in when(
            datetime(2026, 1, 2, 3, 4)
        )
        session["lang"] = "en"
        app.extensions["babel"].instance.domain_instance  # noqa: B018  (babel is installed)
    with app.test_request_context("/"):
        session["lang"] = "en"
        assert "Jan" in when(datetime(2026, 1, 2, 3, 4))


def test_sla_countdowns_carry_what_console_js_needs_to_tick(console_factory, app: Flask) -> None:
    case_id = start_case(app)
    clock.freeze(clock.now())
    with app.app_context():
        instance = db.session.get(WorkflowInstance, case_id)
        instance.sla_due_at = clock.now() + timedelta(minutes=5, seconds=30)
        db.session.commit()
    risk = console_factory("risk1")
    for path in ("/inbox", f"/cases/{case_id}"):
        page = risk.get(path).get_data(as_text=True)
        cell = re.search(r'class="sla ?"[^>]*data-seconds="(\d+)"[^>]*>([^<]*)<', page)
        assert cell, path
        assert cell.group(1) == "330" and cell.group(2) == "剩余 5分30秒"
        formats = re.search(r'<span id="countdown-formats" hidden([^>]*)>', page).group(1)  # type: ignore[union-attr]
        assert 'data-left="剩余 %(span)s"' in formats and 'data-ms="%(m)s分%(s)s秒"' in formats
    risk.post("/language", {"lang": "en", "next": "/inbox"})
    page = risk.get("/inbox").get_data(as_text=True)
    assert 'data-overdue="%(span)s overdue"' in page and 'data-dh="%(d)sd %(h)sh"' in page
