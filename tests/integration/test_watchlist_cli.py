"""``riskloop watchlist import FILE``: the summary of what changed per list, the
re-screening of active clients, and a malformed file that imports nothing."""

from __future__ import annotations

from pathlib import Path

from sqlalchemy import create_engine, func, select
from sqlalchemy.orm import Session

from tests.support.cli import run
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.model import Client
from workflow.risk.events.model import RiskEvent
from workflow.risk.screening.watchlist import WatchlistEntry


def test_import_prints_what_changed_and_re_screens_active_clients_once(cli_env, tmp_path):
    assert run("db", "upgrade").exit_code == 0
    engine = create_engine(cli_env["DATABASE_URL"])
    with Session(engine) as session:
        session.add(
            Client(
                name="深圳市華強科技有限公司",
                credit_code=make_credit_code("91440300000000021"),
                owner="sales1",
                created_by="sales1",
                status="active",
            )
        )
        session.commit()
    lists = tmp_path / "lists.csv"
    lists.write_text(
        "统一社会信用代码,名称,名单,原因,别名\n,深圳华强科技有限公司,blacklist,诈骗,华强\n",
        encoding="utf-8",
    )

    first = run("watchlist", "import", str(lists))
    second = run("watchlist", "import", str(lists))

    assert first.exit_code == 0, first.output
    assert "blacklist: 1 entries (1 added, 0 changed, 0 removed)" in first.output
    assert "1 active clients re-screened against 1 new or changed entries: 1 hit(s)" in (
        first.output
    )
    assert "nothing changed" in second.output
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(RiskEvent)).scalar_one() == 1
    engine.dispose()


def test_a_malformed_row_is_named_and_nothing_is_imported(cli_env, tmp_path: Path):
    assert run("db", "upgrade").exit_code == 0
    bad = tmp_path / "bad.csv"
    bad.write_text("credit_code,name,list,reason\n,甲公司,blacklist,x\n,乙公司,greylist,x\n")

    result = run("watchlist", "import", str(bad))

    assert result.exit_code != 0
    assert "row 3" in result.output and "nothing was imported" in result.output
    engine = create_engine(cli_env["DATABASE_URL"])
    with Session(engine) as session:
        assert session.execute(select(func.count()).select_from(WatchlistEntry)).scalar_one() == 0
    engine.dispose()
