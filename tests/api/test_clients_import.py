"""Batch import of clients (CSV and XLSX) through the API and the CLI; key rotation."""

from __future__ import annotations

import io
from pathlib import Path

from flask import Flask
from openpyxl import Workbook
from sqlalchemy import text

from api.extensions import db
from tests.support.app import TEST_KEYS, Api, drain
from tests.support.client_imports import clients, code, csv_file, upload
from workflow.platform.crypto import FieldCipher, attach_cipher, generate_key, parse_keys


def test_a_dry_run_reports_every_bad_row_and_writes_nothing(app: Flask, api: Api) -> None:
    content = csv_file(
        f"Good Co,{code(1)},5000000,private,,,,0,",
        f"Bad Code,{code(2)[:-1]}0,1,private,,,,0,",
        f"Negative,{code(3)},-5,private,,,,0,",
        f"Twice,{code(1)},1,private,,,,0,",
        f"Bad phone,{code(4)},1,martian,,Li,call me,x,",
    )
    r = upload(api, "sales1", content, query="?dry_run=true")
    assert r.status_code == 200, r.get_json()
    report = r.get_json()
    found = {(e["row"], e["field"]) for e in report["errors"]}
    assert found == {
        (3, "credit_code"),
        (4, "registered_capital"),
        (5, "credit_code"),
        (6, "ownership_type"),
        (6, "contacts"),
        (6, "facts"),
    }
    assert clients(app) == {}
    r = upload(api, "sales1", content)
    assert r.status_code == 422 and "nothing was imported" in r.get_json()["detail"]
    assert clients(app) == {}


def test_import_is_idempotent_and_never_changes_sensitive_fields(app: Flask, api: Api) -> None:
    first = csv_file(
        f"Alpha,{code(10)},5000000,private,6222020012345678,Li,13812341234,1,a;b",
        f"Beta,{code(11)},9000000,local_soe,,,,0,",
    )
    report = upload(api, "sales1", first).get_json()
    assert (report["created"], report["updated"], report["unchanged"]) == (2, 0, 0)
    assert upload(api, "sales1", first).get_json()["unchanged"] == 2
    changed = csv_file(
        f"Alpha Ltd,{code(10)},5000000,private,6222999900001111,Li,13812341234,1,a;b",
        f"Beta,{code(11)},9000000,local_soe,,,,0,",
    )
    report = upload(api, "sales1", changed).get_json()
    assert (report["updated"], report["unchanged"]) == (1, 1)
    assert report["sensitive_differences"][0]["field"] == "bank_account"
    alpha = clients(app)[code(10)]
    assert alpha.name == "Alpha Ltd" and alpha.bank_account == "6222020012345678"
    assert (
        alpha.owner == "sales1"
        and alpha.tags == ["a", "b"]
        and alpha.facts == {"litigation_count": 1}
    )
    assert alpha.contacts == [{"name": "Li", "phone": "13812341234", "email": None}]


def test_an_xlsx_import_can_submit_every_client_for_admission(app: Flask, api: Api) -> None:
    book = Workbook()
    sheet = book.active
    sheet.append(["name", "credit_code", "ownership_type", "registered_capital"])
    sheet.append(["Gamma", code(20), "central_soe", 300_000_000])
    sheet.append(["Delta", code(21), "private", 200_000_000])
    buffer = io.BytesIO()
    book.save(buffer)
    r = upload(api, "sales2", buffer.getvalue(), name="clients.xlsx", query="?submit=true")
    assert r.status_code == 200, r.get_json()
    assert (r.get_json()["created"], r.get_json()["submitted"]) == (2, 2)
    drain(app)
    rows = clients(app)
    assert {rows[code(20)].status, rows[code(21)].status} == {"pending_admission"}
    assert rows[code(20)].owner == "sales2" and rows[code(21)].rating in ("A", "B", "C")


def test_sales_may_not_update_someone_elses_client_by_import(app: Flask, api: Api) -> None:
    upload(api, "sales1", csv_file(f"Alpha,{code(30)},5000000,private,,,,0,"))
    r = upload(api, "sales2", csv_file(f"Renamed,{code(30)},5000000,private,,,,0,"))
    assert r.status_code == 422
    assert clients(app)[code(30)].name == "Alpha"


def test_the_cli_imports_with_a_progress_bar_and_watch_lists_too(
    app: Flask, tmp_path: Path
) -> None:
    from api.cli import main

    runner = app.test_cli_runner()
    path = tmp_path / "clients.csv"
    path.write_bytes(csv_file(f"Epsilon,{code(40)},5000000,private,,,,0,"))
    result = runner.invoke(main, ["clients", "import", str(path), "--owner", "sales1"])
    assert result.exit_code == 0, result.output
    assert '"created": 1' in result.output
    assert clients(app)[code(40)].owner == "sales1"
    bad = tmp_path / "bad.csv"
    bad.write_bytes(csv_file(f"Zeta,{code(41)},-1,private,,,,0,"))
    result = runner.invoke(main, ["clients", "import", str(bad), "--owner", "sales1", "--dry-run"])
    assert result.exit_code == 1 and "row 2: registered_capital" in result.output
    lists = tmp_path / "lists.csv"
    lists.write_text(f"credit_code,name,list,reason\n{code(40)},Epsilon,blacklist,fraud\n")
    result = runner.invoke(main, ["watchlist", "import", str(lists)])
    assert result.exit_code == 0 and "blacklist: 1 entries" in result.output


def test_keys_rotate_re_encrypts_every_value_with_the_newest_key(app: Flask, api: Api) -> None:
    from api.cli import main

    upload(
        api,
        "sales1",
        csv_file(f"Eta,{code(50)},5000000,private,6222020012345678,Li,13812341234,0,"),
    )
    old_keys = parse_keys(TEST_KEYS["RISKLOOP_ENCRYPTION_KEYS"])
    new_key = generate_key()

    def use_keys(keys: list[str]) -> None:
        with app.app_context():
            attach_cipher(db.engine, FieldCipher(keys))

    use_keys([new_key, *old_keys])
    try:
        result = app.test_cli_runner().invoke(main, ["keys", "rotate"])
        assert result.exit_code == 0, result.output
        assert "re-encrypted 2 of 2" in result.output
        use_keys([new_key])  # the old key is gone: everything still opens
        eta = clients(app)[code(50)]
        assert eta.bank_account == "6222020012345678" and eta.contacts[0]["phone"] == "13812341234"
        with app.app_context():
            raw = db.session.execute(text("SELECT bank_account FROM clients")).scalar_one()
        assert raw.startswith("gAAAAA") and "6222" not in raw
    finally:
        use_keys(old_keys)
