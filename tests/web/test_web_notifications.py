"""My notifications in the console: listed newest first with the unread count, opened into
their case, marked read one by one or all at once, CSRF on each form, never another user's."""

from __future__ import annotations

import re

import pytest
from flask import Flask

from api.extensions import db
from workflow.platform import clock
from workflow.records.models import Notification


def add_notes(app: Flask, username: str = "sales1") -> list[int]:
    with app.app_context():
        notes = [
            Notification(
                username=username,
                event="alert.raised",
                title=title,
                body=body,
                instance_id=instance,
                created_at=clock.now(),
            )
            for title, body, instance in (
                ("红色预警：负面新闻", "请在24小时内响应", 41),
                ("每日预警汇总", "", None),
            )
        ]
        db.session.add_all(notes)
        db.session.commit()
        return [n.id for n in notes]


def test_notifications_list_open_and_mark_read(console_factory, app: Flask) -> None:
    first, second = add_notes(app)
    add_notes(app, "sales2")
    sales = console_factory("sales1")
    page = sales.get("/notifications").get_data(as_text=True)
    assert 'href="/notifications"' in page and "通知" in page
    assert 'data-unread="2"' in page and "红色预警：负面新闻" in page and "请在24小时内响应" in page
    assert page.count("data-notification=") == 2  # sales2's are not shown
    assert page.index(f'data-notification="{second}"') < page.index(f'data-notification="{first}"')
    opened = sales.post(f"/notifications/{first}/read", {"open": "1"}, token_from="/notifications")
    assert opened.status_code == 302 and opened.headers["Location"].endswith("/cases/41")
    page = sales.get("/notifications?unread=1").get_data(as_text=True)
    assert 'data-unread="1"' in page and f'data-notification="{first}"' not in page
    done = sales.post("/notifications/read-all", token_from="/notifications")
    assert done.status_code == 302
    page = sales.get(done.headers["Location"]).get_data(as_text=True)
    assert "data-unread" not in page and "1 条通知已标为已读" in page


def test_notification_forms_need_csrf_and_never_touch_anothers(console_factory, app: Flask) -> None:
    first, _ = add_notes(app)
    sales = console_factory("sales1")
    assert sales.post(f"/notifications/{first}/read", csrf=False).status_code == 400
    assert sales.post("/notifications/read-all", csrf=False).status_code == 400
    other = console_factory("sales2")
    assert (
        other.post(f"/notifications/{first}/read", token_from="/notifications").status_code == 404
    )
    with app.app_context():
        assert db.session.get(Notification, first).read_at is None


@pytest.mark.parametrize("lang", ["zh_CN", "en"])
def test_no_notifications_is_an_empty_state(console_factory, lang: str) -> None:
    console = console_factory()
    console.post("/language", {"lang": lang, "next": "/login"}, token_from="/login")
    assert console.login("auditor1").status_code == 302
    page = console.get("/notifications").get_data(as_text=True)
    text = re.sub(r"<[^>]+>", " ", page)
    assert ("暂无通知" if lang == "zh_CN" else "No notifications.") in text
