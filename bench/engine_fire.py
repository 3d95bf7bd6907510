"""The engine's own figures: ``fire()`` throughput at N clients, and one client's latency.

The clients are spread over ``settings.processes`` processes (``BENCH_PROCESSES``,
threads in each), as gunicorn spreads requests over worker processes.
Each client thread has its own SQLAlchemy session on its own pooled connection
and fires ``approve`` on random instances of ``bench/definitions/bench_toggle.yaml``
(pending ⇄ reviewed, a 24 h timer in each state, a ``notify`` task written to the
outbox), each firing one transaction committed through ``workflow.platform.transaction.transact``
as the API does. No broker is attached, so outbox rows are written and left for
a relay, exactly as the bare-SQL baseline leaves its rows.
"""

from __future__ import annotations

import random
import time
from pathlib import Path
from typing import Any

from .config import Settings
from .harness import LoadResult, percentile, run_load, run_load_processes, split

DEFINITIONS = Path(__file__).parent / "definitions"
ACTOR_NAME = "bench-approver"


def build_catalog():
    """riskloop's registry and the bench definition, compiled once, shared by all clients."""
    from api import composition

    catalog = composition.catalog()
    catalog.load_folder(DEFINITIONS)
    return catalog


def load_real_definitions(catalog) -> None:
    """Also load the shipped workflows (for the inbox: it looks at every definition)."""
    import definitions

    catalog.load_folder(Path(definitions.__file__).parent)


def sync_catalog(settings: Settings, dbname: str, catalog) -> None:
    """Record the definitions in the database, as the app does at start-up."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import Session

    engine = create_engine(settings.sqlalchemy_url(dbname))
    try:
        with Session(engine) as session:
            catalog.sync(session)
            session.commit()
    finally:
        engine.dispose()


def actor():
    from workflow.records.identity import Actor

    return Actor(ACTOR_NAME, frozenset({"risk_officer"}))


class FireClient:
    def __init__(self, session_factory, catalog, id_range: tuple[int, int], seed: int) -> None:
        from workflow.engine.firing import fire
        from workflow.platform.transaction import transact

        self._fire = fire
        self._transact = transact
        self.session = session_factory()
        self.catalog = catalog
        self.lo, self.hi = id_range
        self.rng = random.Random(seed)
        self.actor = actor()
        self.n = 0
        self.seed = seed

    def step(self) -> None:
        iid = self.rng.randint(self.lo, self.hi)
        self.n += 1
        session = self.session
        self._transact(
            session,
            lambda: self._fire(
                session,
                iid,
                "approve",
                self.actor,
                request_id=f"bench-{self.seed}-{self.n}",
            ),
        )

    def recover(self) -> None:
        self.session.rollback()

    def close(self) -> None:
        self.session.close()


def session_factory(settings: Settings, dbname: str, pool: int, catalog):
    """A pool and a session factory whose sessions carry an engine object over ``catalog``."""
    from sqlalchemy import create_engine
    from sqlalchemy.orm import sessionmaker

    from workflow.engine.runtime import Runtime
    from workflow.platform.lean import LeanSession

    engine = create_engine(settings.sqlalchemy_url(dbname), pool_size=pool, max_overflow=4)
    # As the app's (api.composition): expire_on_commit=False, nothing is re-read after
    # commit; lean transactions (workflow.platform.lean).
    factory = sessionmaker(engine, class_=LeanSession, expire_on_commit=False)
    return engine, Runtime(catalog=catalog).bind(factory)


def process_clients(settings: Settings, dbname: str, id_range: tuple[int, int], threads: int):
    """In one load process: its own catalog (compiled once) and connection pool, as a
    gunicorn worker has; returns the per-client factory."""
    catalog = build_catalog()
    _engine, factory = session_factory(settings, dbname, threads + 2, catalog)
    return lambda i: FireClient(factory, catalog, id_range, seed=3000 + i)


def measure(
    settings: Settings,
    dbname: str,
    id_range: tuple[int, int],
    catalog,
    *,
    clients: int | None = None,
    duration_s: float | None = None,
    processes: int | None = None,
) -> LoadResult:
    """``clients`` firing clients spread over ``processes`` processes (``settings.processes``)."""
    n = clients or settings.clients
    procs = processes or settings.processes
    if procs > 1:
        threads = max(split(n, procs))
        return run_load_processes(
            process_clients,
            (settings, dbname, id_range, threads),
            processes=procs,
            clients=n,
            warmup_s=settings.warmup_s,
            duration_s=duration_s or settings.duration_s,
        )
    engine, factory = session_factory(settings, dbname, n + 2, catalog)
    try:
        return run_load(
            lambda i: FireClient(factory, catalog, id_range, seed=3000 + i),
            clients=n,
            warmup_s=settings.warmup_s,
            duration_s=duration_s or settings.duration_s,
        )
    finally:
        engine.dispose()


def latency_probe(factory, catalog, id_range: tuple[int, int], samples: int) -> dict[str, Any]:
    """One client firing ``samples`` times in a row: median and p90 in ms."""
    client = FireClient(factory, catalog, id_range, seed=99)
    try:
        for _ in range(20):
            client.step()
        lat = []
        for _ in range(samples):
            t0 = time.perf_counter()
            client.step()
            lat.append((time.perf_counter() - t0) * 1000)
    finally:
        client.close()
    return _stats(lat)


def _stats(lat: list[float]) -> dict[str, Any]:
    return {
        "samples": len(lat),
        "p50_ms": round(percentile(lat, 50), 3),
        "p90_ms": round(percentile(lat, 90), 3),
        "mean_ms": round(sum(lat) / len(lat), 3),
    }
