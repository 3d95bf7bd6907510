"""Name screening figures (README, Name screening): precision and recall on the labelled
fixture at the configured thresholds, the name index over 1,000,000 entries (build
time, memory, p50/p95 latency of one name), the streamed import of a 1,000,000-row
watch-list file and the re-screening of 100,000 active clients against a 1,000-entry
delta on PostgreSQL (time, memory growth).

Run as its own process (``python -m bench.name_screening [entries] [clients] [url]
[parts]``) so its memory figures are its own; ``bench.run`` starts it and reads the JSON
it prints. ``parts`` (comma-separated ``accuracy,index,import,rescreen``, all by default)
runs some of them, e.g. ``rescreen`` alone on a fresh database.
"""

from __future__ import annotations

import csv
import gc
import json
import random
import resource
import statistics
import sys
import time
from pathlib import Path
from typing import Any

FIXTURE = Path(__file__).resolve().parents[1] / "tests" / "fixtures" / "name_pairs.csv"
_REGIONS = ["北京", "上海", "深圳", "广州", "杭州", "成都", "武汉", "南京", "苏州", "西安", ""]
_CHARS = (
    "华强兴隆盛达通泰恒丰瑞祥鑫源宏伟嘉和信诚金银海天中新东方明光永安富康佳美德润博远"
    "联创智科技汇聚鼎晟昌荣益启航宇星辰云峰林森泽浩瀚锦绣龙凤腾飞辉煌正道同心众志华夏"
)
_TRADES = ["科技", "贸易", "实业", "投资", "电子", "物流", "建设", "医药", "能源", "传媒", "食品"]
_FORMS = ["有限公司", "有限责任公司", "股份有限公司", "集团有限公司"]


def rss_mb() -> float:
    """The process's current resident memory (Linux)."""
    with open("/proc/self/statm") as handle:
        pages = int(handle.read().split()[1])
    return pages * resource.getpagesize() / 1e6


def synthetic_names(count: int, seed: int = 17) -> list[str]:
    rng = random.Random(seed)
    return [
        f"{rng.choice(_REGIONS)}{''.join(rng.choices(_CHARS, k=rng.choice((2, 3, 4))))}"
        f"{rng.choice(_TRADES)}{rng.choice(_FORMS)}"
        for _ in range(count)
    ]


def accuracy() -> dict[str, Any]:
    from workflow.risk.screening.names import Thresholds, pairs_stats

    with FIXTURE.open(encoding="utf-8", newline="") as handle:
        pairs = [(r["query"], r["listed"], r["same"] == "1") for r in csv.DictReader(handle)]
    thresholds = Thresholds()
    stats = pairs_stats(pairs, thresholds)
    return {
        "certain": thresholds.certain,
        "possible": thresholds.possible,
        **{k: round(v, 4) if isinstance(v, float) else v for k, v in stats.items()},
    }


def index_figures(entries: int) -> dict[str, Any]:
    import opencc

    from workflow.risk.screening.names import NameIndex, fold

    names = synthetic_names(entries)
    gc.collect()
    before = rss_mb()
    started = time.perf_counter()
    index = NameIndex()
    for ref, name in enumerate(names):
        index.add(ref, name)
    build_s = time.perf_counter() - started
    gc.collect()
    index_mb = rss_mb() - before
    fold.cache_clear()
    rng = random.Random(5)
    s2t = opencc.OpenCC("s2t")
    queries = [s2t.convert(n) for n in rng.sample(names, 200)]  # listed, typed in traditional
    queries += synthetic_names(200, seed=99)  # mostly not listed
    timings = []
    found = 0
    for query in queries:
        t0 = time.perf_counter()
        found += bool(index.search(query))
        timings.append((time.perf_counter() - t0) * 1000)
    timings.sort()
    return {
        "entries": entries,
        "build_s": round(build_s, 1),
        "index_rss_mb": round(index_mb, 1),
        "queries": len(queries),
        "queries_with_hits": found,
        "p50_ms": round(statistics.median(timings), 2),
        "p95_ms": round(timings[int(len(timings) * 0.95) - 1], 2),
    }


def import_figures(entries: int, url: str) -> dict[str, Any]:
    """Import a CSV watch list of ``entries`` rows (Chinese headers, aliases), streamed."""
    import tempfile

    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    from workflow.platform.db import Base
    from workflow.records.identity import Actor
    from workflow.risk.screening.watchlist import import_watchlist
    from workflow.risk.screening.watchlist_files import read_watchlist_file

    engine = create_engine(url)
    Base.metadata.create_all(engine)
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "sanctions.csv"
        with path.open("w", encoding="utf-8", newline="") as handle:
            writer = csv.writer(handle)
            writer.writerow(["统一社会信用代码", "名称", "名单", "原因", "别名"])
            for n, name in enumerate(synthetic_names(entries, seed=23)):
                writer.writerow(["", name, "sanctions", "bench", f"alias {n}"])
        samples: list[float] = []
        gc.collect()
        started = time.perf_counter()
        with Session(engine) as session:
            import_watchlist(
                session,
                read_watchlist_file(path),
                Actor.system("bench"),
                source=path.name,
                progress=lambda rows: samples.append(rss_mb()),
            )
            session.commit()
        elapsed = time.perf_counter() - started
    engine.dispose()
    tenth = samples[len(samples) // 10] if samples else 0.0
    return {
        "entries": entries,
        "seconds": round(elapsed, 1),
        "rows_per_s": round(entries / elapsed) if elapsed else None,
        "rss_growth_mb": round(samples[-1] - tenth, 1) if samples else 0.0,
    }


def rescreen_figures(clients: int, delta: int, url: str) -> dict[str, Any]:
    from sqlalchemy import create_engine, insert
    from sqlalchemy.orm import Session

    from workflow.platform import clock
    from workflow.platform.db import Base
    from workflow.records.identity import Actor
    from workflow.risk.clients.model import Client
    from workflow.risk.screening.names import Thresholds
    from workflow.risk.screening.rescreen import rescreen_chunk
    from workflow.risk.screening.watchlist import WatchlistImport, import_watchlist

    engine = create_engine(url)
    Base.metadata.create_all(engine)
    names = synthetic_names(clients, seed=3)
    now = clock.now()
    with Session(engine) as session:
        for start in range(0, clients, 5_000):
            session.execute(
                insert(Client),
                [
                    {
                        "name": name,
                        "credit_code": f"BENCH{start + n:013d}",
                        "owner": "bench",
                        "created_by": "bench",
                        "status": "active",
                        "created_at": now,
                        "updated_at": now,
                    }
                    for n, name in enumerate(names[start : start + 5_000])
                ],
            )
        session.commit()
        listed = random.Random(8).sample(names, delta // 10)  # a tenth are clients' names
        rows = [
            {"credit_code": "", "name": n, "list": "blacklist", "reason": "bench"}
            for n in listed + synthetic_names(delta - len(listed), seed=11)
        ]
        summary = import_watchlist(session, rows, Actor.system("bench"), source="bench")
        session.commit()
        gc.collect()
        samples = []
        started = time.perf_counter()
        while rescreen_chunk(session, summary.import_id, Thresholds(), clock.now()):
            session.commit()
            session.expunge_all()
            samples.append(rss_mb())
        session.commit()
        elapsed = time.perf_counter() - started
        record = session.get(WatchlistImport, summary.import_id)
        assert record is not None
        tenth = samples[len(samples) // 10] if samples else 0.0
        result = {
            "clients": record.clients_rescreened,
            "delta_entries": summary.delta,
            "hits": record.hits,
            "seconds": round(elapsed, 1),
            "clients_per_s": round(record.clients_rescreened / elapsed, 0) if elapsed else None,
            "rss_growth_mb": round((samples[-1] - tenth) if samples else 0.0, 1),
        }
    engine.dispose()
    return result


def run_section(settings: Any, out: dict[str, Any], log: Any) -> None:
    """The ``names`` section of ``bench.run``: this module in a process of its own."""
    import subprocess

    from . import database

    entries, clients = (100_000, 10_000) if settings.quick else (1_000_000, 100_000)
    dbname = settings.dbname("names")
    database.recreate(settings, dbname)
    log(f"  name index over {entries:,} entries; re-screen of {clients:,} clients")
    try:
        done = subprocess.run(
            [
                sys.executable,
                "-m",
                "bench.name_screening",
                str(entries),
                str(clients),
                settings.sqlalchemy_url(dbname),
            ],
            check=True,
            capture_output=True,
            text=True,
            cwd=Path(__file__).resolve().parents[1],
        )
    finally:
        if not settings.keep_databases:
            database.drop(settings, dbname)
    out["names"] = json.loads(done.stdout.strip().splitlines()[-1])
    log(f"  {out['names']}")


PARTS = ("accuracy", "index", "import", "rescreen")


def main(argv: list[str]) -> int:
    entries = int(argv[1]) if len(argv) > 1 else 1_000_000
    clients = int(argv[2]) if len(argv) > 2 else 100_000
    url = argv[3] if len(argv) > 3 else ""
    parts = set(argv[4].split(",")) if len(argv) > 4 else set(PARTS)
    if unknown := parts - set(PARTS):
        raise SystemExit(f"unknown part(s) {', '.join(sorted(unknown))}; known: {', '.join(PARTS)}")
    out: dict[str, Any] = {}
    if "accuracy" in parts:
        out["accuracy"] = accuracy()
    if "index" in parts:
        out["index"] = index_figures(entries)
    if url and "import" in parts:
        out["import"] = import_figures(entries, url)
    if url and "rescreen" in parts:
        out["rescreen"] = rescreen_figures(clients, 1_000, url)
    print(json.dumps(out))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
