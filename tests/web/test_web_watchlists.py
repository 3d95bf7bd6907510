"""Watch-list management in the console: a risk officer uploads a list file (the CLI's import:
a bad row is named in the reader's language and nothing is imported), sees the lists with
their counts, searches a list's entries (ID numbers never shown) and the import history with
the re-screening's progress; auditors read; other roles are refused."""

from __future__ import annotations

import io
import json

from flask import Flask
from sqlalchemy import func, select

from api.extensions import db
from tests.support.app import Api, drain
from tests.support.events import admitted_client
from tests.support.onboarding import A_FACTS, code
from tests.support.persons import id_number
from workflow.risk.events.model import RiskEvent
from workflow.risk.screening.watchlist import WatchlistEntry, WatchlistImport

HEADER = "统一社会信用代码,名称,名单,原因,别名,证件号码"


def csv_file(*rows: str) -> bytes:
    return ("\n".join((HEADER, *rows)) + "\n").encode("utf-8")


def upload(console, content: bytes, filename: str = "名单.csv"):  # noqa: ANN001, ANN201
    return console.post(
        "/watchlists",
        {"file": (io.BytesIO(content), filename)},
        token_from="/inbox",
        content_type="multipart/form-data",
    )


def entries(app: Flask) -> int:
    with app.app_context():
        return db.session.scalar(select(func.count()).select_from(WatchlistEntry)) or 0


def test_a_risk_officer_uploads_a_list_and_active_clients_are_re_screened(
    app: Flask, api: Api, console_factory
) -> None:
    client_id = admitted_client(app, api, 71, **A_FACTS)
    risk = console_factory("risk1")
    page = risk.get("/watchlists").get_data(as_text=True)
    assert 'href="/watchlists"' in page and "data-watchlist-upload" in page
    person = id_number(7)
    good = csv_file(
        f"{code(71)},深圳示例科技有限公司 71,blacklist,欺诈,,",
        f",王某某,dishonest_debtor,拒不履行,王某|Wang Mou,{person}",
        ",Acme Trading Ltd,sanctions,制裁,,",
    )
    done = upload(risk, good)
    assert done.status_code == 302 and done.headers["Location"].endswith("/watchlists/imports")
    waiting = risk.get("/watchlists/imports").get_data(as_text=True)
    assert "已导入 名单.csv：共 3 条，新增 3 条，变更 0 条，移除 0 条。" in waiting  # the flash
    assert 'data-rescreen="pending"' in waiting and "data-polling" in waiting
    assert drain(app) >= 1  # the workers re-screen the active clients

    history = risk.get("/watchlists/imports").get_data(as_text=True)
    assert "data-polling" not in history  # done: the page stops asking
    row = history.split("data-import=")[1].split("</tr>")[0]
    assert "risk1" in row and "名单.csv" in row
    assert "data-added>3<" in row and 'data-rescreen="done"' in row
    assert "已完成" in row and "data-rescreened>1<" in row and "data-hits>1<" in row

    lists = risk.get("/watchlists").get_data(as_text=True)
    counts = {
        part.split('"')[0]: part.split("data-count>")[1].split("<")[0]
        for part in lists.split('data-list="')[1:4]
    }
    assert counts == {"blacklist": "1", "dishonest_debtor": "1", "sanctions": "1"}
    assert "失信被执行人" in lists

    debtors = risk.get("/watchlists/dishonest_debtor").get_data(as_text=True)
    assert "王某某" in debtors and "Wang Mou" in debtors and "已存档" in debtors
    assert person not in debtors and person[-6:] not in debtors  # only its digest is stored
    found = risk.get(f"/watchlists/dishonest_debtor?q={person}").get_data(as_text=True)
    assert "王某某" in found  # searched by the digest of the full number
    assert "王某某" not in risk.get("/watchlists/dishonest_debtor?q=李").get_data(as_text=True)
    by_code = risk.get(f"/watchlists/blacklist?q={code(71)[:8]}").get_data(as_text=True)
    assert "深圳示例科技有限公司 71" in by_code
    assert risk.get("/watchlists/nonexistent").status_code == 404

    # The same file again changes nothing and re-screens nobody.
    again = upload(risk, good)
    assert again.status_code == 302
    with app.app_context():
        latest = db.session.scalars(
            select(WatchlistImport).order_by(WatchlistImport.id.desc())
        ).first()
        assert latest.rescreen_status == "none" and latest.imported_by == "risk1"
        hits = db.session.scalars(select(RiskEvent).where(RiskEvent.client_id == client_id)).all()
        assert [e.type for e in hits] == ["watchlist_hit"]
    assert "名单无变化" in risk.get("/watchlists/imports").get_data(as_text=True)


def test_a_bad_row_is_named_in_the_readers_language_and_nothing_is_imported(
    app: Flask, console_factory
) -> None:
    manager = console_factory("manager1")
    bad = csv_file(
        f"{code(72)},甲公司,blacklist,欺诈,,",
        "91310000MA1FL0000X,乙公司,greylist,欺诈,,",
    )
    refused = upload(manager, bad)
    html = refused.get_data(as_text=True)
    assert refused.status_code == 422
    row3 = [r.split("</tr>")[0] for r in html.split('data-row="3"')[1:]]
    assert len(row3) == 2, html
    assert any("信用代码" in r and "校验" in r for r in row3), row3
    assert any("名单" in r and "“greylist”" in r for r in row3), row3
    assert "名单.csv 中有 1 行有误（见下表），未导入任何内容。" in html
    assert "must be one of" not in html  # not the engine's English
    assert 'data-row="2"' not in html
    assert entries(app) == 0
    with app.app_context():
        assert db.session.scalar(select(func.count()).select_from(WatchlistImport)) == 0

    english = console_factory("manager1")
    english.post("/language", {"lang": "en", "next": "/watchlists"}, token_from="/inbox")
    html = upload(english, bad).get_data(as_text=True)
    assert "is not a list; use blacklist" in html

    header = upload(manager, b"foo,bar\n1,2\n").get_data(as_text=True)
    assert "表头" in header or "foo,bar" in header
    not_json = upload(manager, b"[1, 2", "名单.json")
    assert not_json.status_code == 422 and "JSON" in not_json.get_data(as_text=True)
    assert entries(app) == 0

    good = json.dumps(
        [{"credit_code": "", "name": "Acme", "list": "sanctions", "reason": "制裁"}]
    ).encode()
    assert upload(manager, good, "../../etc/\u202elists.json").status_code == 302
    assert entries(app) == 1
    with app.app_context():
        assert db.session.scalars(select(WatchlistImport.source)).all() == ["lists.json"]


def test_auditors_read_and_other_roles_are_refused(app: Flask, console_factory) -> None:
    auditor = console_factory("auditor1")
    page = auditor.get("/watchlists")
    assert page.status_code == 200
    html = page.get_data(as_text=True)
    assert "data-watchlist-upload" not in html and 'href="/watchlists"' in html
    assert auditor.get("/watchlists/imports").status_code == 200
    assert auditor.get("/watchlists/blacklist").status_code == 200
    refused = upload(auditor, b"not even a csv")  # refused before the file is read
    assert refused.status_code == 403
    for username in ("sales1", "legal1", "admin"):
        other = console_factory(username)
        assert 'href="/watchlists"' not in other.get("/inbox").get_data(as_text=True)
        assert other.get("/watchlists").status_code == 403
        assert other.get("/watchlists/imports").status_code == 403
        assert other.get("/watchlists/sanctions").status_code == 403
        assert upload(other, csv_file()).status_code == 403
    assert entries(app) == 0


def test_the_upload_form_needs_its_csrf_token(app: Flask, console_factory) -> None:
    risk = console_factory("risk1")
    sent = risk.post(
        "/watchlists",
        {"file": (io.BytesIO(csv_file(",Acme,sanctions,x,,")), "a.csv")},
        csrf=False,
        content_type="multipart/form-data",
    )
    assert sent.status_code in (400, 403)
    assert entries(app) == 0
