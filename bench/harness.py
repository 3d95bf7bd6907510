"""Closed-loop load: N client threads each repeating one operation, timed over a window.

Each client runs ``setup()`` once, then calls ``step()`` until told to stop.
Only operations that complete inside the measured window (after the warm-up)
are counted, and their latencies kept, so connection set-up and statement
preparation are left out of the figures.

``run_load_processes`` spreads the clients over several processes (threads in
each), as gunicorn spreads requests over worker processes: 16 client threads in
one Python process share one GIL, which no production deployment does. The
processes start their warm-up together (a barrier), so their windows coincide.
"""

from __future__ import annotations

import multiprocessing
import queue
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any


@dataclass
class LoadResult:
    clients: int
    seconds: float
    operations: int
    errors: int
    latencies_ms: list[float] = field(repr=False, default_factory=list)
    first_error: str | None = None

    @property
    def per_s(self) -> float:
        return self.operations / self.seconds if self.seconds else 0.0

    def percentile(self, p: float) -> float | None:
        return percentile(self.latencies_ms, p)

    def summary(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "seconds": round(self.seconds, 2),
            "operations": self.operations,
            "errors": self.errors,
            "per_s": round(self.per_s, 1),
            "p50_ms": _round(self.percentile(50)),
            "p99_ms": _round(self.percentile(99)),
            "first_error": self.first_error,
        }


def _round(v: float | None) -> float | None:
    return None if v is None else round(v, 2)


def percentile(values: list[float], p: float) -> float | None:
    if not values:
        return None
    ordered = sorted(values)
    k = min(len(ordered) - 1, max(0, round(p / 100 * (len(ordered) - 1))))
    return ordered[k]


class _Client(threading.Thread):
    def __init__(self, index: int, factory: Callable[[int], Any], run: _Run) -> None:
        super().__init__(name=f"bench-client-{index}", daemon=True)
        self.index = index
        self.factory = factory
        self.run_state = run
        self.ops = 0
        self.errors = 0
        self.first_error: str | None = None
        self.latencies: list[float] = []

    def run(self) -> None:  # noqa: D401 - thread body
        state = self.run_state
        try:
            client = self.factory(self.index)
        except BaseException as exc:  # a client that cannot start is a failed run
            self.first_error = f"setup: {exc!r}"
            self.errors += 1
            state.ready.wait()
            return
        state.ready.wait()
        perf = time.perf_counter
        try:
            while not state.stop:
                t0 = perf()
                try:
                    client.step()
                except Exception as exc:  # counted, shown, and the loop goes on
                    self.errors += 1
                    if self.first_error is None:
                        self.first_error = repr(exc)
                    client.recover()
                    continue
                t1 = perf()
                if state.measuring and t0 >= state.t_start:
                    self.ops += 1
                    self.latencies.append((t1 - t0) * 1000.0)
        finally:
            client.close()


class _Run:
    def __init__(self, n: int) -> None:
        self.ready = threading.Barrier(n + 1)
        self.stop = False
        self.measuring = False
        self.t_start = float("inf")


def run_load(
    factory: Callable[[int], Any],
    *,
    clients: int,
    warmup_s: float,
    duration_s: float,
    first_index: int = 0,
    sync: Callable[[], Any] | None = None,
) -> LoadResult:
    """Run ``clients`` threads; ``factory(i)`` returns an object with step/recover/close.

    ``sync`` is called once every client is set up, before the warm-up (a barrier
    shared with other processes)."""
    state = _Run(clients)
    threads = [_Client(first_index + i, factory, state) for i in range(clients)]
    for t in threads:
        t.start()
    state.ready.wait()
    if sync is not None:
        sync()
    time.sleep(warmup_s)
    state.t_start = time.perf_counter()
    state.measuring = True
    time.sleep(duration_s)
    state.measuring = False
    elapsed = time.perf_counter() - state.t_start
    state.stop = True
    for t in threads:
        t.join(timeout=60)
    lat: list[float] = []
    for t in threads:
        lat.extend(t.latencies)
    first = next((t.first_error for t in threads if t.first_error), None)
    return LoadResult(
        clients=clients,
        seconds=elapsed,
        operations=sum(t.ops for t in threads),
        errors=sum(t.errors for t in threads),
        latencies_ms=lat,
        first_error=first,
    )


def split(clients: int, processes: int) -> list[int]:
    """``clients`` threads spread as evenly as possible over ``processes`` processes."""
    processes = max(1, min(processes, clients))
    return [clients // processes + (1 if i < clients % processes else 0) for i in range(processes)]


def _child(
    make_factory: Callable[..., Callable[[int], Any]],
    args: tuple[Any, ...],
    first_index: int,
    clients: int,
    warmup_s: float,
    duration_s: float,
    barrier: Any,
    results: Any,
) -> None:
    try:
        factory = make_factory(*args)
        result = run_load(
            factory,
            clients=clients,
            warmup_s=warmup_s,
            duration_s=duration_s,
            first_index=first_index,
            sync=lambda: barrier.wait(timeout=300),
        )
        results.put(("ok", result))
    except BaseException as exc:  # reported to the parent, which fails the run
        barrier.abort()
        results.put(("error", f"{type(exc).__name__}: {exc}"))


def run_load_processes(
    make_factory: Callable[..., Callable[[int], Any]],
    args: tuple[Any, ...],
    *,
    processes: int,
    clients: int,
    warmup_s: float,
    duration_s: float,
) -> LoadResult:
    """``run_load`` over ``processes`` fresh processes (``spawn``), ``clients`` threads in all.

    ``make_factory(*args)`` runs in each process (a module-level function: it is
    pickled) and returns the per-client factory, so every process builds its own
    engine, catalog and connections, as a gunicorn worker does. With one process
    the load runs here, in threads, as ``run_load`` does.
    """
    shares = split(clients, processes)
    if len(shares) == 1:
        return run_load(
            make_factory(*args), clients=clients, warmup_s=warmup_s, duration_s=duration_s
        )
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(len(shares))
    results = ctx.Queue()
    procs = []
    first = 0
    for n in shares:
        proc = ctx.Process(
            target=_child,
            name=f"bench-load-{first}",
            daemon=True,
            args=(make_factory, args, first, n, warmup_s, duration_s, barrier, results),
        )
        proc.start()
        procs.append(proc)
        first += n
    collected: list[LoadResult] = []
    failures: list[str] = []
    deadline = time.monotonic() + 300 + warmup_s + duration_s + 120
    try:
        while len(collected) + len(failures) < len(procs):
            try:
                kind, value = results.get(timeout=max(1.0, deadline - time.monotonic()))
            except queue.Empty:
                failures.append("a load process did not report in time")
                break
            if kind == "ok":
                collected.append(value)
            else:
                failures.append(value)
    finally:
        for proc in procs:
            proc.join(timeout=30)
            if proc.is_alive():
                proc.kill()
                proc.join()
    if failures:
        raise RuntimeError(f"load process failed: {failures[0]}")
    latencies: list[float] = []
    for r in collected:
        latencies.extend(r.latencies_ms)
    return LoadResult(
        clients=clients,
        seconds=sum(r.seconds for r in collected) / len(collected),
        operations=sum(r.operations for r in collected),
        errors=sum(r.errors for r in collected),
        latencies_ms=latencies,
        first_error=next((r.first_error for r in collected if r.first_error), None),
    )
