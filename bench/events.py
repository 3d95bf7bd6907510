"""Risk events through the monitoring rules on PostgreSQL, beside bare inserts of the same rows.

A fresh database with the riskloop schema and 200 active, rated clients. The same mix of
events (business changes, negative news with and without the rule keywords, lawsuits,
payment overdue, abnormal operation) is written twice, one event per transaction, by one
thread: once as bare ``INSERT``s with psycopg (the floor: storing the row and nothing
else), once as riskloop handles it — the intake's transaction (``record_event``: dedup
lookup, insert, outbox row) and then the worker's (``process_event``: claim, every rule,
alerts with their remediation loops, system tags, re-rating). Events per second of each
and the ratio. Run alone with ``python -m bench.events``.
"""

from __future__ import annotations

import random
import time
from typing import Any

import psycopg
from psycopg.types.json import Jsonb

from . import database
from .config import Settings, load

CLIENTS = 200
_TITLES = (
    ("business_change", "法定代表人变更", ""),
    ("business_change", "注册资本变更", ""),
    ("negative_news", "媒体报道", "公司被法院立案调查"),
    ("negative_news", "行业新闻", "新品发布会反响平平"),
    ("negative_news", "员工反映", "拖欠工资，欠薪三个月"),
    ("litigation", "买卖合同纠纷", "原告：某供应商"),
    ("payment_overdue", "货款逾期 30 天", ""),
    ("abnormal_operation", "列入经营异常名录", ""),
    ("business_change", "经营范围变更", ""),
    ("negative_news", "地方新闻", "工厂扩建"),
)


def events(count: int, client_ids: list[int], seed: int = 7) -> list[dict[str, Any]]:
    rng = random.Random(seed)
    out = []
    for n in range(count):
        type_, title, details = _TITLES[n % len(_TITLES)]
        out.append(
            {
                "client_id": rng.choice(client_ids),
                "type": type_,
                "title": title,
                "details": details,
                "keywords": [],
                "data": {},
                "external_id": f"bench-{n}",
            }
        )
    return out


def _seed_clients(settings: Settings, dbname: str) -> list[int]:
    from workflow.platform.crypto import FieldCipher

    now = time.strftime("%Y-%m-%d %H:%M:%S")
    # financial figures are stored encrypted, with the key of the engine object that
    # reads them (database.shipped_runtime)
    cipher = FieldCipher([database.KEY])
    capital, limit = cipher.encrypt("200000000.00"), cipher.encrypt("50000000.00")
    with psycopg.connect(settings.dsn(dbname)) as conn:
        ids = []
        for n in range(CLIENTS):
            row = conn.execute(
                "INSERT INTO clients (name, credit_code, industry, region, registered_capital,"
                " established_on, ownership_type, state_ownership_pct, rating, risk_score,"
                " risk_level, credit_limit, status, owner, blacklisted, tags, contracts, facts,"
                " screening, version, created_by, created_at, updated_at) VALUES (%s, %s,"
                " '制造业', '上海', %s, '2001-01-01', 'private', 0, 'A', 100, 'low',"
                " %s, 'active', 'sales1', false, '[]', '[]', '{}', %s, 1, 'bench', %s, %s)"
                " RETURNING id",
                (
                    f"基准客户 {n}",
                    f"BENCH{n:013d}",
                    capital,
                    limit,
                    Jsonb({"checks": []}),
                    now,
                    now,
                ),
            ).fetchone()
            ids.append(row[0])
    return ids


def bare(settings: Settings, dbname: str, rows: list[dict[str, Any]]) -> float:
    """Events per second stored by bare INSERTs, one per transaction."""
    with psycopg.connect(settings.dsn(dbname)) as conn:
        started = time.perf_counter()
        for row in rows:
            conn.execute(
                "INSERT INTO risk_events (client_id, type, title, details, keywords, data,"
                " source, external_id, occurred_at, received_at, recorded_by)"
                " VALUES (%s, %s, %s, %s, %s, %s, 'bench-bare', %s, now(), now(), 'bench')",
                (
                    row["client_id"] + 1_000_000,  # clients of their own: no rule reads them
                    row["type"],
                    row["title"],
                    row["details"],
                    Jsonb(row["keywords"]),
                    Jsonb(row["data"]),
                    row["external_id"],
                ),
            )
            conn.commit()
        return len(rows) / (time.perf_counter() - started)


def monitored(settings: Settings, dbname: str, rows: list[dict[str, Any]]) -> dict[str, Any]:
    """Events per second through the intake and the monitoring rules, and what they did."""
    from sqlalchemy import func, select

    from workflow.records.identity import Actor
    from workflow.risk.alerts.model import Alert
    from workflow.risk.events.intake import record_event
    from workflow.risk.events.model import RatingRecord
    from workflow.risk.events.processor import process_event

    engine, rt = database.shipped_runtime(settings, dbname)
    actor = Actor.system("bench")
    try:
        with rt.session() as s:
            rt.catalog.sync(s)
            s.commit()
        started = time.perf_counter()
        for row in rows:
            with rt.session() as s:
                event = record_event(s, actor, row["client_id"], {**row, "source": "bench"})
                event_id = event.event.id
                s.commit()
            with rt.session() as s:
                process_event(s, event_id)
                s.commit()
        per_s = len(rows) / (time.perf_counter() - started)
        with rt.session() as s:
            alerts = s.execute(select(func.count()).select_from(Alert)).scalar_one()
            ratings = s.execute(select(func.count()).select_from(RatingRecord)).scalar_one()
    finally:
        engine.dispose()
    return {"per_s": per_s, "alerts": alerts, "rating_records": ratings}


def run(settings: Settings, out: dict[str, Any], log) -> None:  # noqa: ANN001
    dbname = settings.dbname("events")
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    count = 300 if settings.quick else 2000
    try:
        client_ids = _seed_clients(settings, dbname)
        rows = events(count, client_ids)
        bare_per_s = bare(settings, dbname, rows)
        log(f"  bare INSERT of {count} events, one per transaction: {bare_per_s:,.0f}/s")
        result = monitored(settings, dbname, rows)
        log(
            f"  through the intake and the monitoring rules: {result['per_s']:,.0f} events/s "
            f"({result['alerts']} alerts, {result['rating_records']} rating records)"
        )
    finally:
        database.drop(settings, dbname)
    out["events"] = {"count": count, "clients": CLIENTS, **result, "bare_per_s": bare_per_s}
    out["events_monitored_per_s"] = round(result["per_s"], 1)
    out["events_bare_per_s"] = round(bare_per_s, 1)
    out["events_vs_bare"] = round(result["per_s"] / bare_per_s, 3) if bare_per_s else None


if __name__ == "__main__":
    out: dict[str, Any] = {}
    run(load(), out, print)
    print({k: v for k, v in out.items() if k != "events"}, out["events"])
