"""Embedded mode: ``riskloop run`` (waitress, SQLite, in-process worker) serving approvals.

A fresh instance folder; ``riskloop run --no-demo`` migrates its SQLite database
and serves. This process then adds the bench approver, a token and a pool of
``bench_toggle`` instances through the app on the same file, and wrk posts
``approve`` at 1 and 4 connections (SQLite serialises writers, so more
connections only queue). Run alone with ``python -m bench.embedded``.
"""

from __future__ import annotations

import http.client
import json
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

from . import app_env, http_load
from .config import Settings, load


def run(settings: Settings, out: dict[str, Any], log) -> None:
    folder = tempfile.mkdtemp(prefix="riskloop-embedded-")
    port = http_load.free_port()
    env = dict(os.environ)
    env.pop("DATABASE_URL", None)
    env.pop("REDIS_URL", None)
    root = str(Path(__file__).resolve().parent.parent)
    env.update(
        {
            "RISKLOOP_INSTANCE_PATH": folder,
            "RISKLOOP_EXTRA_DEFINITIONS": str(app_env.BENCH_DEFINITIONS),
            "RISKLOOP_LOG_LEVEL": "WARNING",
            "PYTHONPATH": root + (os.pathsep + env["PYTHONPATH"] if env.get("PYTHONPATH") else ""),
        }
    )
    riskloop = shutil.which("riskloop", path=os.path.dirname(sys.executable)) or "riskloop"
    log_file = tempfile.NamedTemporaryFile(prefix="bench-embedded-", suffix=".log", delete=False)  # noqa: SIM115
    proc = subprocess.Popen(
        [riskloop, "run", "--no-demo", "--port", str(port)],
        env=env,
        cwd=root,
        stdout=log_file,
        stderr=subprocess.STDOUT,
    )
    scripts: list[str] = []
    try:
        _wait(port, proc, log_file.name)
        lo, hi, token = _prepare(env, folder, 500)
        script = http_load._script(lo, hi, token)
        scripts.append(script)
        base = f"http://127.0.0.1:{port}"
        http_load.wrk(f"{base}/", connections=1, seconds=2, script=script)
        levels = []
        for c in (1, 4):
            r = http_load.wrk(
                f"{base}/",
                connections=c,
                seconds=settings.http_duration_s,
                script=script,
                threads=1,
            )
            r["load_average"] = os.getloadavg()[0]
            levels.append(r)
            log(
                f"  embedded (riskloop run, SQLite), approve at {c} connection(s): "
                f"{r['per_s']:,.0f}/s p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms non-2xx "
                f"{r['non_2xx']}; load average {r['load_average']:.1f}"
            )
        out["embedded"] = {"levels": levels}
        out["embedded_http_per_s"] = levels[0]["per_s"]
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=20)
        except subprocess.TimeoutExpired:
            proc.kill()
            proc.wait()
        log_file.close()
        os.unlink(log_file.name)
        for s in scripts:
            os.unlink(s)
        shutil.rmtree(folder, ignore_errors=True)


def _wait(port: int, proc: subprocess.Popen, log_path: str, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while time.time() < deadline:
        if proc.poll() is not None:
            raise RuntimeError(
                f"riskloop run exited {proc.returncode}: {Path(log_path).read_text()[-1500:]}"
            )
        try:
            conn = http.client.HTTPConnection("127.0.0.1", port, timeout=2)
            conn.request("GET", "/healthz")
            if conn.getresponse().status == 200:
                return
        except OSError:
            pass
        time.sleep(0.3)
    raise RuntimeError(f"riskloop run did not answer: {Path(log_path).read_text()[-1500:]}")


def _prepare(env: dict[str, str], folder: str, count: int) -> tuple[int, int, str]:
    """The approver, a token and ``count`` bench instances, written through the app on the
    served SQLite file (its keys and database URL come from the instance folder)."""
    code = f"""
import json, os
os.environ.update({json.dumps({k: env[k] for k in ("RISKLOOP_INSTANCE_PATH", "RISKLOOP_EXTRA_DEFINITIONS")})})
from api import create_app
from api.extensions import db
from bench import app_env
from workflow.engine import firing
from workflow.records.identity import Actor
app = create_app()
app_env.ensure_user(app)
token = app_env.token(app)
with app.app_context():
    ids = [firing.start(db.session, "bench_toggle", Actor("bench", frozenset({{"risk_officer"}}))).id
           for _ in range({count})]
    db.session.commit()
print(json.dumps([min(ids), max(ids), token]))
"""
    done = subprocess.run(
        [sys.executable, "-c", code],
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
        cwd=str(Path(__file__).resolve().parent.parent),
    )
    if done.returncode != 0:
        raise RuntimeError(f"could not prepare the embedded database: {done.stderr[-1500:]}")
    lo, hi, token = json.loads(done.stdout.strip().splitlines()[-1])
    return int(lo), int(hi), str(token)


def main() -> None:
    out: dict[str, Any] = {}
    run(load(), out, print)
    print(json.dumps(out, indent=2))


if __name__ == "__main__":
    main()
