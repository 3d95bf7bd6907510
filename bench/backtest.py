"""Backtest throughput: clients re-rated per second by a candidate rule set (issue #18).

A fresh PostgreSQL database with the riskloop schema and 100,000 rated clients (10,000
with ``BENCH_QUICK=1``) of mixed ownership, capital, age and facts, each with the
screening record the shipped rule set wrote a month ago, and one risk event (a lawsuit
or negative news) for every fifth client since. ``run_backtest`` then re-rates every
client with the candidate (the central-SOE white list at 70 % instead of 80 %) and with
the active rule set, and replays the active version on every recorded decision, in one
read-only session. Run alone with ``python -m bench.backtest``.
"""

from __future__ import annotations

import io
import json
import random
import time
from datetime import date, datetime, timedelta
from decimal import Decimal
from pathlib import Path
from typing import Any

import psycopg

from . import database
from .config import Settings, load

_OWNERSHIP = ("central_soe", "local_soe", "private", "private", "private", "foreign")
_INDUSTRIES = ("能源", "制造业", "批发零售", "建筑", "信息技术")
_REGIONS = ("北京", "上海", "广东", "江苏", "四川")
_PAYMENT = ("good", "good", "good", "minor_delays", "overdue")
# The field-encryption key of the benchmark database: registered capital and credit limits
# are stored encrypted (migration 0018), so the seed writes them as the runtime reads them.
KEY = database.KEY


def _copy(
    conn: psycopg.Connection, table: str, columns: tuple[str, ...], rows: list[tuple]
) -> None:
    buffer = io.StringIO()
    for row in rows:
        buffer.write("\t".join(_cell(v) for v in row) + "\n")
    with conn.cursor().copy(f"COPY {table} ({', '.join(columns)}) FROM STDIN") as copy:
        copy.write(buffer.getvalue())


def _cell(value: Any) -> str:
    if value is None:
        return "\\N"
    if isinstance(value, dict | list):
        value = json.dumps(value, ensure_ascii=False)
    return str(value).replace("\\", "\\\\").replace("\t", "\\t").replace("\n", "\\n")


def seed(settings: Settings, dbname: str, count: int, now: datetime) -> None:
    """``count`` rated clients with their screening records, and their risk events."""
    from workflow.platform.crypto import FieldCipher
    from workflow.risk.clients.model import Client
    from workflow.risk.events.rerating import record_facts, rule_set_label
    from workflow.risk.screening.rules import load_default_rule_set

    rules = load_default_rule_set()
    cipher = FieldCipher([KEY])

    def sealed(amount: Any) -> str:
        return cipher.encrypt(str(Decimal(str(amount)).quantize(Decimal("0.01"))))

    label = rule_set_label(rules)
    rng = random.Random(18)
    rated_at = now - timedelta(days=30)
    clients, records, events = [], [], []
    for n in range(1, count + 1):
        ownership = rng.choice(_OWNERSHIP)
        state_pct = rng.choice((60, 70, 75, 85, 100)) if ownership.endswith("soe") else 0
        capital = rng.choice((5e5, 3e6, 2e7, 6e7, 2e8, 5e8))
        established = date(rng.randint(1990, 2025), rng.randint(1, 12), 1)
        facts = {
            "litigation_count": rng.choice((0, 0, 0, 1, 3)),
            "payment_history": rng.choice(_PAYMENT),
        }
        client = Client(
            ownership_type=ownership,
            state_ownership_pct=state_pct,
            registered_capital=capital,
            established_on=established,
            blacklisted=False,
            facts=facts,
        )
        result = rules.evaluate(record_facts(client, rated_at))
        clients.append(
            (
                n,
                f"基准客户 {n}",
                f"BT{n:016d}",
                rng.choice(_INDUSTRIES),
                rng.choice(_REGIONS),
                sealed(capital),
                established,
                ownership,
                state_pct,
                result.rating,
                result.score,
                result.risk_level,
                sealed(result.credit_limit),
                "active",
                "sales1",
                False,
                [],
                [],
                facts,
                {"checks": [], "rating": result.rating},
                1,
                "bench",
                rated_at,
                rated_at,
            )
        )
        reasons = [
            *({"kind": "rule", **r} for r in result.to_dict()["fired_rules"]),
            {
                "kind": "scorecard",
                "decided_by": result.decided_by,
                "contributions": result.contributions,
            },
        ]
        records.append(
            (
                n,
                result.rating,
                result.score,
                result.risk_level,
                result.credit_limit,
                reasons,
                label,
                "screening",
                "applied",
                rated_at,
            )
        )
        if n % 5 == 0:
            kind = rng.choice(("litigation", "negative_news"))
            at = now - timedelta(days=rng.randint(1, 20))
            events.append(
                (n, kind, "基准事件", "", [], {}, "bench", f"bt-{n}", at, at, "bench", {})
            )
    with psycopg.connect(settings.dsn(dbname)) as conn:
        _copy(
            conn,
            "clients",
            (
                "id",
                "name",
                "credit_code",
                "industry",
                "region",
                "registered_capital",
                "established_on",
                "ownership_type",
                "state_ownership_pct",
                "rating",
                "risk_score",
                "risk_level",
                "credit_limit",
                "status",
                "owner",
                "blacklisted",
                "tags",
                "contracts",
                "facts",
                "screening",
                "version",
                "created_by",
                "created_at",
                "updated_at",
            ),
            clients,
        )
        _copy(
            conn,
            "client_ratings",
            (
                "client_id",
                "rating",
                "risk_score",
                "risk_level",
                "credit_limit",
                "reasons",
                "rule_set_version",
                "trigger",
                "outcome",
                "rated_at",
            ),
            records,
        )
        _copy(
            conn,
            "risk_events",
            (
                "client_id",
                "type",
                "title",
                "details",
                "keywords",
                "data",
                "source",
                "external_id",
                "occurred_at",
                "received_at",
                "recorded_by",
                "outcome",
            ),
            events,
        )
        conn.execute("ANALYZE")


def measure(settings: Settings, dbname: str, now: datetime) -> dict[str, Any]:
    from sqlalchemy import create_engine

    import definitions
    from api import composition
    from workflow.risk.governance.backtest import run_backtest

    rules = (Path(definitions.__file__).parent / "rules" / "default.yaml").read_text("utf-8")
    candidate = rules.replace("state_ownership_pct > 80.0", "state_ownership_pct > 70.0")
    engine = create_engine(settings.sqlalchemy_url(dbname))
    rt = composition.build_runtime(
        engine,
        {"RISKLOOP_TIMEZONE": "Asia/Shanghai"},
        folders=[Path(definitions.__file__).parent],
        keys=[KEY],
    )
    try:
        with rt.session() as s:
            started = time.perf_counter()
            report = run_backtest(
                s, "rule_set", candidate.replace("version: 1", "version: 2").encode(), now=now
            )
            seconds = time.perf_counter() - started
            s.rollback()
    finally:
        engine.dispose()
    return {
        "clients": report["clients"],
        "seconds": round(seconds, 2),
        "per_s": report["clients"] / seconds,
        "changed": report["changed"],
        "determinism": {k: report["determinism"][k] for k in ("checked", "mismatches", "passed")},
    }


def run(settings: Settings, out: dict[str, Any], log) -> None:  # noqa: ANN001
    dbname = settings.dbname("backtest")
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    count = 10_000 if settings.quick else 100_000
    now = datetime.utcnow().replace(microsecond=0)
    try:
        started = time.perf_counter()
        seed(settings, dbname, count, now)
        log(f"  seeded {count:,} rated clients in {time.perf_counter() - started:.0f} s")
        result = measure(settings, dbname, now)
        log(
            f"  backtest of a rule set: {result['per_s']:,.0f} clients re-rated/s "
            f"({result['clients']:,} in {result['seconds']} s; {result['changed']['any']:,} "
            f"would change; determinism {result['determinism']})"
        )
    finally:
        database.drop(settings, dbname)
    out["backtest"] = result
    out["backtest_clients_per_s"] = round(result["per_s"], 1)


if __name__ == "__main__":
    out: dict[str, Any] = {}
    run(load(), out, print)
    print(out["backtest"])
