"""The app as gunicorn serves it for the HTTP benchmark: ``gunicorn bench.wsgi:app``.

The production factory with the bench definition added (``RISKLOOP_BENCH_DEFINITIONS``);
everything else comes from the environment set by ``bench.app_env.environ``.

With ``BENCH_TIMING_DIR`` set, each POST's time inside the worker is appended to
``<dir>/<pid>``: the end (epoch seconds), the wall time and the thread's CPU time
(``time.thread_time``), so that a latency can be split into the worker's own work
and the waiting (for a core, the GIL, PostgreSQL, Redis) around it. One line per
request, written while the response is returned; the app itself is unchanged.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any

from api import create_app

flask_app = create_app({"RISKLOOP_EXTRA_DEFINITIONS": os.environ.get("RISKLOOP_BENCH_DEFINITIONS", "")})


def timed(inner: Callable[..., Iterable[bytes]], folder: str) -> Callable[..., Iterable[bytes]]:
    lock = threading.Lock()
    files: dict[int, Any] = {}

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> Iterable[bytes]:
        wall, cpu = time.perf_counter(), time.thread_time()
        try:
            return inner(environ, start_response)
        finally:
            if environ.get("REQUEST_METHOD") == "POST":
                line = f"{time.time():.6f} {time.perf_counter() - wall:.6f} {time.thread_time() - cpu:.6f}\n"
                pid = os.getpid()
                with lock:
                    fh = files.get(pid)
                    if fh is None:
                        fh = files[pid] = open(os.path.join(folder, str(pid)), "a", buffering=1)  # noqa: SIM115
                    fh.write(line)

    return app


_folder = os.environ.get("BENCH_TIMING_DIR")
app = timed(flask_app, _folder) if _folder else flask_app
