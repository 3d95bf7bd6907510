"""The app as gunicorn serves it for the HTTP benchmark: ``gunicorn bench.wsgi:app``.

The production factory with the bench definition added (``RISKLOOP_BENCH_DEFINITIONS``);
everything else comes from the environment set by ``bench.app_env.environ``.
"""

from __future__ import annotations

import os

from api import create_app

app = create_app({"RISKLOOP_EXTRA_DEFINITIONS": os.environ.get("RISKLOOP_BENCH_DEFINITIONS", "")})
