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

from api import create_app

from .timing import timed

flask_app = create_app(
    {"RISKLOOP_EXTRA_DEFINITIONS": os.environ.get("RISKLOOP_BENCH_DEFINITIONS", "")}
)


_folder = os.environ.get("BENCH_TIMING_DIR")
app = timed(flask_app, _folder) if _folder else flask_app
