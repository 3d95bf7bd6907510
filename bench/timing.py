"""Each POST's wall and CPU time inside a gunicorn worker (``BENCH_TIMING_DIR``).

One line per request in ``<dir>/<pid>``: the end (epoch seconds), the wall time
and the thread's CPU time (``time.thread_time``), written while the response is
returned; the wrapped app is unchanged.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Iterable
from typing import Any


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
