"""CPU of gunicorn's worker threads per request under wrk, riskloop's approve and the bare
endpoint's. Not a section of ``bench.run``: a tool for comparing two versions of the code.

``python -m bench.worker_cpu [connections] [seconds]`` from a checkout's root prepares a
bench database (``riskloop_worker_cpu``), serves ``bench.wsgi:app`` and then
``bench.bare_flask:app`` with the production layout (``http_load.Server``), warms each up,
drives it with wrk at ``connections`` for ``seconds``, and reads every worker thread's
user and system CPU from ``/proc/<pid>/task/*/stat`` before and after: per request, for
the request threads and for gunicorn's main thread apart. ``BENCH_WORKER_CPU_APPS``
(comma-separated) chooses the apps. Run it from two checkouts one after the other to
compare them on the same machine (the README's fifth pass did so).
"""

from __future__ import annotations

import glob
import os
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
                before = _threads(pids)
                result = http_load.wrk(
                    f"{base}/", connections=connections, seconds=seconds, script=script
                )
                after = _threads(pids)
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
    finally:
        os.unlink(script)
        database.drop(settings, dbname)
        app_env.flush_redis(settings)


if __name__ == "__main__":
    main()
