"""The HTTP baseline: a bare Flask endpoint doing an approve's row writes with psycopg.

``gunicorn bench.bare_flask:app`` under the same layout as riskloop (same
gunicorn.conf.py, workers and threads). ``POST /api/v1/workflows/<id>/actions/approve``
parses the JSON body, does ``bare_sql.BareClient``'s transaction (lock, instance
update with the chain head, audit record hashed in the engine's format, outbox
row, timers cancelled and armed, commit) on the thread's own connection, and
answers a small JSON document. No token check, no schema, no broker: what is
left of riskloop's request when the framework and the engine cost nothing.
``BENCH_BARE_DSN`` names the database.
"""

from __future__ import annotations

import os
import threading
from typing import Any

from flask import Flask, jsonify, request

from .bare_sql import BareClient
from .timing import timed

flask_app = Flask(__name__)
_local = threading.local()


def _client() -> BareClient:
    client = getattr(_local, "client", None)
    if client is None:
        client = _local.client = BareClient(
            os.environ["BENCH_BARE_DSN"],
            (0, 0),
            pipeline=False,
            seed=threading.get_ident() % 100000,
        )
    return client


@flask_app.post("/api/v1/workflows/<int:instance_id>/actions/approve")
def approve(instance_id: int) -> Any:
    request.get_json(silent=True)
    client = _client()
    try:
        to_state, version = client.fire(instance_id)
    except Exception:
        client.recover()
        raise
    return jsonify(
        {
            "instance": {"id": instance_id, "state": to_state, "version": version},
            "to_state": to_state,
            "replayed": False,
        }
    )


@flask_app.get("/healthz")
def healthz() -> Any:
    return jsonify({"status": "ok"})


_folder = os.environ.get("BENCH_TIMING_DIR")
app = timed(flask_app, _folder) if _folder else flask_app
