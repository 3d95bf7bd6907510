"""Batch client import in the console: a file with Chinese column headers is previewed with
its bad rows named (nothing written), imported once fixed, and a file with a bad row
imports nothing; only client editors may."""

from __future__ import annotations

import io

from flask import Flask

from tests.support.client_imports import clients, code

HEADER = "名称,统一社会信用代码,注册资本,联系人,联系电话,涉诉次数"


def sheet(*rows: str) -> bytes:
    return ("\n".join((HEADER, *rows)) + "\n").encode("utf-8")


def send(console, content: bytes, dry_run: str):  # noqa: ANN001, ANN201
    return console.post(
        "/clients/import",
        {"file": (io.BytesIO(content), "客户.csv"), "dry_run": dry_run},
        token_from="/clients/import",
        content_type="multipart/form-data",
    )


def test_a_chinese_sheet_is_previewed_row_by_row_then_imported(app: Flask, console_factory) -> None:
    sales = console_factory("sales1")
    assert 'href="/clients/import"' in sales.get("/clients").get_data(as_text=True)
    bad = sheet(
        f"成都导入示例有限公司,{code(1)},1000000,张三,13812345678,0",
        "重庆导入示例有限公司,91500000BADCODE000,2000000,李四,12,0",
    )
    preview = send(sales, bad, "1")
    html = preview.get_data(as_text=True)
    assert preview.status_code == 200 and "仅预览" in html
    row3 = [r.split("</tr>")[0] for r in html.split('data-row="3"')[1:]]
    fields = sorted(r.split("<td>")[1].split("<")[0] for r in row3)
    assert fields == ["统一社会信用代码", "联系人"], fields
    assert "e.g. 13812341234" not in html  # field messages in the reader's language
    assert 'data-row="2"' not in html
    assert clients(app) == {}
    refused = send(sales, bad, "0")
    assert refused.status_code == 422 and 'data-row="3"' in refused.get_data(as_text=True)
    assert clients(app) == {}

    good = sheet(f"成都导入示例有限公司,{code(1)},1000000,张三,13812345678,0")
    done = send(sales, good, "0")
    assert done.status_code == 302
    [made] = clients(app).values()
    assert (made.name, made.owner, made.contacts[0]["phone"]) == (
        "成都导入示例有限公司",
        "sales1",
        "13812345678",
    )


def test_only_client_editors_import(app: Flask, console_factory) -> None:
    auditor = console_factory("auditor1")
    assert auditor.get("/clients/import").status_code == 403
    refused = auditor.post(
        "/clients/import",
        {"file": (io.BytesIO(sheet()), "x.csv"), "dry_run": "1"},
        token_from="/inbox",
        content_type="multipart/form-data",
    )
    assert refused.status_code == 403
