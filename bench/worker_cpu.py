"""CPU of gunicorn's worker threads per request under wrk, riskloop's approve and the bare
endpoint's. Not a section of ``bench.run``: a tool for comparing two versions of the code.

``python -m bench.worker_cpu [connections] [seconds]`` from a checkout's root prepares a
bench database (``riskloop_worker_cpu``), serves ``bench.wsgi:app`` and then
``bench.bare_flask:app`` with the production layout (``http_load.Server``), warms each up,
drives it with wrk at ``connections`` for ``seconds``, and reads every worker thread's
user and system CPU from ``/proc/<pid>/task/*/stat`` before and after: per request, for
the request threads and for gunicorn's main thread apart. ``BENCH_WORKER_CPU_APPS``
(comma-separated) chooses the apps; ``BENCH_WORKER_CPU_SPY=DIR`` also samples each worker
with py-spy during the measured run (``--gil``: the thread running Python; each sample
pauses the worker for a moment, so its stacks are whole), writing
``DIR/<app>-<pid>.txt`` (py-spy's raw format; ``python -m bench.spy_shares`` reads it). Run it from two checkouts one after the other to
compare them on the same machine (the README's fifth pass did so).
"""

from __future__ import annotations

import glob
import os
import shutil
import subprocess
import sys

from . import app_env, database, http_load
from .config import load


def _threads(pids: list[int]) -> dict[tuple[int, str], tuple[int, int]]:
    found = {}
    for pid in pids:
        for task in glob.glob(f"/proc/{pid}/task/*"):
            try:
                with open(f"{task}/stat") as fh:
                    fields = fh.read().rpartition(")")[2].split()
            except OSError:  # the thread ended
                continue
            found[(pid, task.rsplit("/", 1)[1])] = (int(fields[11]), int(fields[12]))
    return found


def _postgres_cpu() -> int:
    """User and system clock ticks of every PostgreSQL process on this machine so far."""
    ticks = 0
    for stat in glob.glob("/proc/[0-9]*/stat"):
        try:
            with open(stat) as fh:
                head, _, rest = fh.read().rpartition(")")
        except OSError:  # the process ended
            continue
        if head.endswith("(postgres"):
            fields = rest.split()
            ticks += int(fields[11]) + int(fields[12])
    return ticks


def _spies(app: str, pids: list[int], seconds: int) -> list[subprocess.Popen[bytes]]:
    """py-spy sampling each worker for ``seconds`` (none unless BENCH_WORKER_CPU_SPY is set)."""
    folder = os.environ.get("BENCH_WORKER_CPU_SPY")
    if not folder:
        return []
    spy = shutil.which("py-spy", path=os.path.dirname(sys.executable)) or shutil.which("py-spy")
    if spy is None:
        raise SystemExit("BENCH_WORKER_CPU_SPY needs py-spy (pip install py-spy)")
    os.makedirs(folder, exist_ok=True)
    name = app.replace(":", "-")
    return [
        subprocess.Popen(
            [
                spy,
                "record",
                "--gil",
                "--format",
                "raw",
                "-r",
                "400",
                "-d",
                str(seconds),
                "-p",
                str(pid),
                "-o",
                f"{folder}/{name}-{pid}.txt",
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for pid in pids
    ]


def main() -> None:
    connections = int(sys.argv[1]) if len(sys.argv) > 1 else 16
    seconds = int(sys.argv[2]) if len(sys.argv) > 2 else 10
    apps = os.environ.get("BENCH_WORKER_CPU_APPS", "bench.wsgi:app,bench.bare_flask:app")
    settings = load()
    dbname = "riskloop_worker_cpu"
    tick = os.sysconf("SC_CLK_TCK")
    app_env.flush_redis(settings)
    pool, token = http_load._prepare(settings, dbname, 2000)
    script = http_load._script(*pool, token)
    try:
        for app in apps.split(","):
            server = http_load.Server(settings, dbname, app=app)
            try:
                base = f"http://127.0.0.1:{server.port}"
                http_load.wrk(f"{base}/", connections=4, seconds=3, script=script)
                pids = server.worker_pids()
                spies = _spies(app, pids, seconds)
                before, pg_before = _threads(pids), _postgres_cpu()
                result = http_load.wrk(
                    f"{base}/", connections=connections, seconds=seconds, script=script
                )
                after, pg_after = _threads(pids), _postgres_cpu()
                for spy in spies:
                    spy.wait(timeout=60)
            finally:
                server.stop()
            served = result["per_s"] * seconds
            parts: dict[str, list[int]] = {"request threads": [0, 0], "main thread": [0, 0]}
            for key, (user, system) in after.items():
                user0, system0 = before.get(key, (0, 0))
                part = parts["main thread" if key[1] == str(key[0]) else "request threads"]
                part[0] += user - user0
                part[1] += system - system0
            print(f"{app}: {result['per_s']:,.0f} requests/s at {connections} connections")
            for name, (user, system) in parts.items():
                print(
                    f"  {name}: user {user * 1000 / tick / served:.3f} ms, "
                    f"system {system * 1000 / tick / served:.3f} ms per request"
                )
            print(
                f"  PostgreSQL: {(pg_after - pg_before) * 1000 / tick / served:.3f} ms per request"
            )
    finally:
        os.unlink(script)
        database.drop(settings, dbname)
        app_env.flush_redis(settings)


if __name__ == "__main__":
    main()
