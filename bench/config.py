"""Sizes, durations and connection settings of a benchmark run, from the environment.

``BENCH_QUICK=1`` shrinks every size and duration so that a run ends in about
three minutes; the full run is sized to end in about thirty on 2 cores.
"""

from __future__ import annotations

import os
from dataclasses import dataclass, field


def _flag(name: str) -> bool:
    return os.environ.get(name, "").strip().lower() in {"1", "true", "yes", "on"}


@dataclass(frozen=True)
class Settings:
    quick: bool
    # Server DSN without a database name; databases are created per section.
    pg_host: str = "127.0.0.1"
    pg_port: int = 5432
    pg_user: str = "postgres"
    redis_url: str = "redis://127.0.0.1:6379/15"
    db_prefix: str = "riskloop_bench"
    keep_databases: bool = False
    clients: int = 16
    # load processes the clients of the throughput section are spread over
    processes: int = 4
    # throughput sections
    warmup_s: float = 2.0
    duration_s: float = 20.0
    pool_instances: int = 10_000
    # scale section
    small_instances: int = 10_000
    large_instances: int = 1_000_000
    audit_per_instance: int = 10
    open_fraction: float = 0.1
    latency_samples: int = 400
    verify_cap_s: float = 600.0
    # worker memory section
    rss_instances: int = 10_000
    rss_transitions: int = 100_000
    rss_cap_s: float = 720.0
    # http section
    http_duration_s: int = 10
    http_concurrency: tuple[int, ...] = (1, 4, 8, 16, 32, 64)
    # 0: gunicorn.conf.py's (production) default
    http_workers: int = 0
    http_threads: int = 0
    sections: tuple[str, ...] = field(default_factory=tuple)

    def dsn(self, dbname: str) -> str:
        return f"host={self.pg_host} port={self.pg_port} user={self.pg_user} dbname={dbname}"

    def sqlalchemy_url(self, dbname: str) -> str:
        return f"postgresql+psycopg://{self.pg_user}@{self.pg_host}:{self.pg_port}/{dbname}"

    def dbname(self, section: str) -> str:
        return f"{self.db_prefix}_{section}"


def load() -> Settings:
    quick = _flag("BENCH_QUICK")
    sections = tuple(s for s in os.environ.get("BENCH_SECTIONS", "").split(",") if s.strip())
    common = dict(
        pg_host=os.environ.get("BENCH_PG_HOST", "127.0.0.1"),
        pg_port=int(os.environ.get("BENCH_PG_PORT", "5432")),
        pg_user=os.environ.get("BENCH_PG_USER", "postgres"),
        redis_url=os.environ.get("BENCH_REDIS_URL", "redis://127.0.0.1:6379/15"),
        keep_databases=_flag("BENCH_KEEP_DB"),
        clients=int(os.environ.get("BENCH_CLIENTS", "16")),
        processes=int(os.environ.get("BENCH_PROCESSES", "4")),
        http_workers=int(os.environ.get("BENCH_HTTP_WORKERS", "0")),
        http_threads=int(os.environ.get("BENCH_HTTP_THREADS", "0")),
        sections=sections,
    )
    if quick:
        return Settings(
            quick=True,
            warmup_s=1.0,
            duration_s=4.0,
            pool_instances=2_000,
            small_instances=10_000,
            large_instances=50_000,
            audit_per_instance=10,
            latency_samples=150,
            verify_cap_s=40.0,
            rss_instances=1_000,
            rss_transitions=5_000,
            rss_cap_s=40.0,
            http_duration_s=3,
            http_concurrency=(1, 8, 16, 32),
            **common,
        )
    return Settings(quick=False, **common)
