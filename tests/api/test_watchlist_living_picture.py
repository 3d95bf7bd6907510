"""The living risk picture's done-when for watch lists: importing a list that names an
active client records a ``watchlist_hit`` risk event, and the monitoring rules act on it —
a black alert, the client suspended, a system tag and a re-rating in its history."""

from __future__ import annotations

from pathlib import Path

from flask import Flask
from sqlalchemy import select

from api.extensions import db
from tests.support.app import Api, drain
from tests.support.events import admitted_client
from tests.support.onboarding import A_FACTS, client_row, code
from workflow.risk.alerts.model import Alert
from workflow.risk.events.model import ClientTag, RatingRecord, RiskEvent


def _import(app: Flask, path: Path) -> str:
    from api.cli import main

    result = app.test_cli_runner().invoke(main, ["watchlist", "import", str(path)])
    assert result.exit_code == 0, result.output
    return result.output


def test_a_list_naming_an_active_client_suspends_re_rates_and_raises_a_black_alert(
    app: Flask, api: Api, tmp_path: Path
) -> None:
    client_id = admitted_client(app, api, 81, **A_FACTS)
    before = client_row(app, client_id)
    assert (before.status, before.rating) == ("active", "A")
    lists = tmp_path / "lists.csv"
    lists.write_text(
        f"统一社会信用代码,名称,名单,原因\n{code(81)},深圳示例科技有限公司 81,blacklist,欺诈\n",
        encoding="utf-8",
    )

    output = _import(app, lists)
    drain(app)

    assert "1 hit(s)" in output, output
    with app.app_context():
        events = db.session.scalars(select(RiskEvent).where(RiskEvent.client_id == client_id)).all()
        assert [(e.type, e.data["certainty"]) for e in events] == [("watchlist_hit", "certain")]
        assert events[0].outcome is not None  # the monitoring rules ran on it
        alerts = db.session.scalars(select(Alert).where(Alert.client_id == client_id)).all()
        assert [a.level for a in alerts] == ["black"]
        tags = db.session.scalars(select(ClientTag.tag).where(ClientTag.client_id == client_id))
        assert "名单命中" in set(tags)
        history = db.session.scalars(
            select(RatingRecord)
            .where(RatingRecord.client_id == client_id)
            .order_by(RatingRecord.id)
        ).all()
        assert history[-1].trigger == f"event:{events[0].id}"
        assert history[-1].outcome == "applied" and history[-1].rating != "A"
    after = client_row(app, client_id)
    assert after.status == "suspended"
    assert after.rating == history[-1].rating

    # the same list again changes nothing and raises nothing new
    assert "nothing changed" in _import(app, lists)
    drain(app)
    with app.app_context():
        assert len(db.session.scalars(select(Alert).where(Alert.client_id == client_id)).all()) == 1
