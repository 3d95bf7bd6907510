"""Through HTTP under gunicorn: approve throughput and latency, the HTTP ceiling, worker memory.

The app runs under gunicorn exactly as in production (``bench/wsgi.py`` is the
production factory plus the bench definition) on PostgreSQL and Redis, bound to
127.0.0.1. ``wrk`` (Debian's) drives it: a no-database endpoint (``/healthz``)
gives the HTTP ceiling; ``POST /api/v1/workflows/{id}/actions/approve`` on
random instances of the pool, with a bearer token, at rising concurrency gives
the peak. The p99 "at half the peak" comes from a paced run: 16 connections
each pausing between requests (wrk's ``delay()``) so that the offered load is
half the peak. The pauses are drawn from an exponential distribution (the think
time of independent users, arrivals close to Poisson): a fixed pause kept the 16
connections in lockstep, so the "half the peak" arrived as bursts of 16
simultaneous requests, and its p99 was that of the 16-connection saturated run.

Worker memory: one gunicorn worker, a Python client firing approvals on
``rss_instances`` instances; the worker's RSS after 100 transitions and after
``rss_transitions`` (capped in time by ``rss_cap_s``).
"""

from __future__ import annotations

import contextlib
import http.client
import json
import os
import random
import re
import runpy
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import psycopg

from . import app_env, bare_sql, database
from .config import Settings

LUA = """
local lo, hi = {lo}, {hi}
local headers = {{["Content-Type"] = "application/json", ["Authorization"] = "Bearer {token}"}}
local pause = {pause}
local counter = 0
local threads = {{}}
setup = function(thread)
  counter = counter + 1
  thread:set("seed", counter * 7919 + os.time())
  table.insert(threads, thread)
end
init = function(args)
  math.randomseed(seed)
  statuses = {{}}
  sample = ""
end
request = function()
  local id = math.random(lo, hi)
  return wrk.format("POST", "/api/v1/workflows/" .. id .. "/actions/approve", headers, "{{}}")
end
response = function(status, headers, body)
  if status ~= 200 then
    statuses[status] = (statuses[status] or 0) + 1
    if sample == "" and body then sample = string.sub(body, 1, 300) end
  end
end
if pause > 0 then
  -- Exponential think times (mean "pause" ms): independent arrivals, not 16
  -- connections pausing in lockstep, which offers the load in bursts of 16.
  delay = function() return math.floor(-math.log(1 - math.random()) * pause + 0.5) end
end
done = function(summary, latency, requests)
  for _, t in ipairs(threads) do
    for code, n in pairs(t:get("statuses")) do
      io.write(string.format("STATUS %d %d\\n", code, n))
    end
    local s = t:get("sample")
    if s ~= "" then io.write("SAMPLE " .. string.gsub(s, "\\n", " ") .. "\\n") end
  end
end
"""


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def production_layout(root: Path) -> tuple[int, int]:
    """The workers and threads gunicorn.conf.py gives on this machine (2 x 8 without it)."""
    try:
        conf = runpy.run_path(str(root / "gunicorn.conf.py"))
        return int(conf["workers"]), int(conf["threads"])
    except Exception:  # missing or broken: Server runs without it and says so
        return 2, 8


class Server:
    """gunicorn serving ``bench.wsgi:app`` on 127.0.0.1.

    ``workers``/``threads`` of 0 keep the project's gunicorn.conf.py values (what
    production runs on this machine); the flags override them otherwise.
    """

    def __init__(
        self,
        settings: Settings,
        dbname: str,
        *,
        workers: int = 0,
        threads: int = 0,
        worker_class: str = "gthread",
        app: str = "bench.wsgi:app",
    ) -> None:
        root = Path(__file__).resolve().parent.parent
        conf_workers, conf_threads = production_layout(root)
        self.workers = workers or conf_workers
        self.threads = threads or conf_threads
        self.note: str | None = None
        self._empty_conf: str | None = None
        env = app_env.environ(settings, dbname)
        env["BENCH_BARE_DSN"] = settings.dsn(dbname)  # bench.bare_flask's database
        # Each POST's wall and CPU time inside the worker (bench/wsgi.py).
        self.timing_dir = tempfile.mkdtemp(prefix="bench-timing-")
        env["BENCH_TIMING_DIR"] = self.timing_dir
        gunicorn = shutil.which("gunicorn", path=os.path.dirname(sys.executable)) or "gunicorn"
        # The project's gunicorn.conf.py (production settings: layout, keep-alive,
        # timeouts, database pool per thread) is used when present; these flags
        # override it. --max-requests 0: no worker recycling, so that memory
        # measured over 100 thousand requests is the worker's own.
        layout = (["--workers", str(workers)] if workers else []) + (
            ["--threads", str(threads)] if threads else []
        )
        args = [
            app,
            "--bind",
            f"127.0.0.1:{self.port_once()}",
            "--worker-class",
            worker_class,
            *layout,
            "--log-level",
            "warning",
            "--max-requests",
            "0",
        ]
        self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115  (closed in stop())
            prefix="bench-gunicorn-", suffix=".log", delete=False
        )
        self.cmd = [gunicorn, *args]
        self.proc = subprocess.Popen(
            self.cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=root
        )
        try:
            self._wait_ready()
        except RuntimeError as exc:
            if not (root / "gunicorn.conf.py").exists():
                raise
            # The project's config did not boot (work in progress?): run without it, and say so.
            self.stop()
            self.note = f"gunicorn.conf.py did not boot, ran without it: {str(exc)[-300:]}"
            empty = tempfile.NamedTemporaryFile(  # noqa: SIM115
                prefix="bench-gunicorn-conf-", suffix=".py", delete=False
            )
            empty.close()
            self._empty_conf = empty.name
            self.port = free_port()
            args[2] = f"127.0.0.1:{self.port}"
            env["RISKLOOP_DB_POOL"] = str(max(self.threads, 10))
            self.cmd = [
                gunicorn,
                "--config",
                empty.name,
                *args,
                "--reuse-port",
                "--workers",
                str(self.workers),
                "--threads",
                str(self.threads),
            ]
            self.log = tempfile.NamedTemporaryFile(  # noqa: SIM115
                prefix="bench-gunicorn-", suffix=".log", delete=False
            )
            self.proc = subprocess.Popen(
                self.cmd, env=env, stdout=self.log, stderr=subprocess.STDOUT, cwd=root
            )
            self._wait_ready()

    def in_worker(self, since: float, until: float) -> dict[str, Any]:
        """Percentiles of the POSTs that ended in [since, until]: wall and CPU time in the worker."""
        walls: list[float] = []
        cpus: list[float] = []
        for path in Path(self.timing_dir).iterdir():
            for line in path.read_text().splitlines():
                end, wall, cpu = (float(x) for x in line.split())
                if since <= end <= until:
                    walls.append(wall * 1000)
                    cpus.append(cpu * 1000)
        walls.sort()
        cpus.sort()

        def pct(values: list[float], q: float) -> float | None:
            return round(values[min(len(values) - 1, int(q * len(values)))], 2) if values else None

        return {
            "requests": len(walls),
            "wall_p50_ms": pct(walls, 0.5),
            "wall_p99_ms": pct(walls, 0.99),
            "cpu_p50_ms": pct(cpus, 0.5),
            "cpu_p99_ms": pct(cpus, 0.99),
        }

    def workers_cpu_s(self) -> float:
        """CPU seconds the worker processes have used so far, every thread included (the
        outbox sender's too, which ``in_worker``'s per-request thread time leaves out)."""
        tick = os.sysconf("SC_CLK_TCK")
        total = 0.0
        for pid in self.worker_pids():
            try:
                fields = Path(f"/proc/{pid}/stat").read_text().rpartition(")")[2].split()
            except OSError:
                continue
            total += (int(fields[11]) + int(fields[12])) / tick  # utime + stime
        return total

    def port_once(self) -> int:
        self.port = free_port()
        return self.port

    def _wait_ready(self, timeout: float = 60) -> None:
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"gunicorn exited {self.proc.returncode}: {self.log_tail()}")
            try:
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
                conn.request("GET", "/healthz")
                if conn.getresponse().status == 200 and len(self.worker_pids()) >= self.workers:
                    return
            except OSError:
                pass
            time.sleep(0.3)
        raise RuntimeError(f"gunicorn did not answer on port {self.port}: {self.log_tail()}")

    def log_tail(self) -> str:
        try:
            return Path(self.log.name).read_text()[-1500:]
        except OSError:
            return ""

    def worker_pids(self) -> list[int]:
        try:
            text = Path(f"/proc/{self.proc.pid}/task/{self.proc.pid}/children").read_text()
        except OSError:
            return []
        return [int(p) for p in text.split()]

    def worker_rss_mb(self) -> list[float]:
        out = []
        for pid in self.worker_pids():
            try:
                for line in Path(f"/proc/{pid}/status").read_text().splitlines():
                    if line.startswith("VmRSS:"):
                        out.append(round(int(line.split()[1]) / 1024, 1))
            except OSError:
                pass
        return out

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.send_signal(signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()
        if not self.log.closed:
            self.log.close()
        with contextlib.suppress(OSError):
            os.unlink(self.log.name)
        if self._empty_conf:
            with contextlib.suppress(OSError):
                os.unlink(self._empty_conf)
        shutil.rmtree(self.timing_dir, ignore_errors=True)


_UNITS = {"us": 0.001, "ms": 1.0, "s": 1000.0, "m": 60000.0}


def _ms(text: str) -> float:
    m = re.match(r"([\d.]+)(us|ms|s|m)$", text.strip())
    if not m:
        raise ValueError(f"unexpected wrk latency {text!r}")
    return float(m.group(1)) * _UNITS[m.group(2)]


def _per_request(cpu_s: float, result: dict[str, Any]) -> float | None:
    """The worker processes' CPU over a wrk run, per request it completed (ms)."""
    done = (result.get("per_s") or 0) * (result.get("seconds") or 0)
    return round(cpu_s * 1000 / done, 2) if done else None


def wrk(
    url: str, *, connections: int, seconds: int, script: str | None = None, threads: int = 2
) -> dict[str, Any]:
    """Run wrk and parse requests/s, latency percentiles and errors."""
    exe = shutil.which("wrk")
    if exe is None:
        raise FileNotFoundError("wrk is not installed: apt-get install -y wrk")
    cmd = [
        exe,
        "-t",
        str(min(threads, connections)),
        "-c",
        str(connections),
        "-d",
        f"{seconds}s",
        "--latency",
        "--timeout",
        "10s",
    ]
    if script:
        cmd += ["-s", script]
    cmd.append(url)
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=seconds + 60)
    text = proc.stdout
    if proc.returncode != 0:
        raise RuntimeError(f"wrk failed: {proc.stderr or text}")
    result: dict[str, Any] = {"connections": connections, "seconds": seconds}
    m = re.search(r"Requests/sec:\s+([\d.]+)", text)
    result["per_s"] = float(m.group(1)) if m else None
    m = re.search(r"(\d+) requests in", text)
    result["requests"] = int(m.group(1)) if m else None
    for pct in ("50", "75", "90", "99"):
        m = re.search(rf"^\s+{pct}%\s+(\S+)", text, re.M)
        result[f"p{pct}_ms"] = round(_ms(m.group(1)), 2) if m else None
    m = re.search(r"Non-2xx or 3xx responses: (\d+)", text)
    result["non_2xx"] = int(m.group(1)) if m else 0
    m = re.search(r"Socket errors: connect (\d+), read (\d+), write (\d+), timeout (\d+)", text)
    result["socket_errors"] = sum(int(x) for x in m.groups()) if m else 0
    statuses: dict[str, int] = {}
    for code, n in re.findall(r"^STATUS (\d+) (\d+)$", text, re.M):
        statuses[code] = statuses.get(code, 0) + int(n)
    if statuses:
        result["statuses"] = statuses
        m = re.search(r"^SAMPLE (.*)$", text, re.M)
        result["sample_error"] = m.group(1)[:300] if m else None
    return result


def _window(
    server: Server, url: str, connections: int, seconds: int, script: str
) -> dict[str, Any]:
    """One wrk run against ``server``, with the time its requests spent in the worker and
    its worker processes' CPU per request."""
    t0, cpu0 = time.time(), server.workers_cpu_s()
    r = wrk(url, connections=connections, seconds=seconds, script=script)
    cpu_s = server.workers_cpu_s() - cpu0
    r["in_worker"] = server.in_worker(t0, time.time())
    r["in_worker"]["process_cpu_ms"] = _per_request(cpu_s, r)
    r["workers_cpu_s"] = cpu_s
    return r


def _combined(windows: list[dict[str, Any]]) -> dict[str, Any]:
    """A concurrency level measured in several windows: requests/s over their whole time,
    the worst window's latency percentiles, errors and CPU summed, each window kept."""
    seconds = sum(w["seconds"] for w in windows)
    done = sum((w["per_s"] or 0) * w["seconds"] for w in windows)
    r: dict[str, Any] = {
        "connections": windows[0]["connections"],
        "seconds": seconds,
        "per_s": round(done / seconds, 2) if seconds else None,
        "requests": sum(w["requests"] or 0 for w in windows),
        "non_2xx": sum(w["non_2xx"] for w in windows),
        "socket_errors": sum(w["socket_errors"] for w in windows),
        "windows": windows,
    }
    for pct in ("p50_ms", "p75_ms", "p90_ms", "p99_ms"):
        values = [w[pct] for w in windows if w[pct] is not None]
        r[pct] = max(values) if values else None
    statuses: dict[str, int] = {}
    for w in windows:
        for code, n in w.get("statuses", {}).items():
            statuses[code] = statuses.get(code, 0) + n
        if w.get("sample_error"):
            r["sample_error"] = w["sample_error"]
    if statuses:
        r["statuses"] = statuses
    cpu = [w["in_worker"] for w in windows]
    r["in_worker"] = {
        "requests": sum(x["requests"] for x in cpu),
        **{
            key: max((x[key] for x in cpu if x[key] is not None), default=None)
            for key in ("wall_p50_ms", "wall_p99_ms", "cpu_p50_ms", "cpu_p99_ms")
        },
        "process_cpu_ms": _per_request(sum(w["workers_cpu_s"] for w in windows), r),
    }
    return r


def _each(windows: list[dict[str, Any]]) -> str:
    return " and ".join(f"{w['per_s'] or 0:,.0f}" for w in windows) + "/s in its windows"


def _maintenance(settings: Settings, dbname: str) -> dict[str, Any]:
    """The server's maintenance so far: each table's autovacuum and autoanalyze counts, the
    checkpoints, and the autovacuum workers running now."""
    with psycopg.connect(settings.dsn(dbname), autocommit=True) as conn:
        tables = {
            name: (vacuums, analyzes)
            for name, vacuums, analyzes in conn.execute(
                "SELECT relname, autovacuum_count, autoanalyze_count FROM pg_stat_user_tables"
            )
        }
        row = conn.execute(
            "SELECT checkpoints_timed + checkpoints_req FROM pg_stat_bgwriter"
        ).fetchone()
        running = conn.execute(
            "SELECT coalesce(string_agg(query, '; '), '') FROM pg_stat_activity "
            "WHERE backend_type = 'autovacuum worker'"
        ).fetchone()
    return {
        "tables": tables,
        "checkpoints": row[0] if row else 0,
        "running": running[0] if running else "",
    }


def _maintenance_since(settings: Settings, dbname: str, before: dict[str, Any]) -> dict[str, Any]:
    """What the server's maintenance did since ``before`` (``_maintenance``): tables
    autovacuumed or autoanalyzed, checkpoints, autovacuum workers running at either end."""
    after = _maintenance(settings, dbname)
    done = [
        f"{name}: {'vacuum ' if counts[0] > before['tables'].get(name, (0, 0))[0] else ''}"
        f"{'analyze' if counts[1] > before['tables'].get(name, (0, 0))[1] else ''}".strip()
        for name, counts in after["tables"].items()
        if counts != before["tables"].get(name, (0, 0))
    ]
    return {
        "autovacuum": done,
        "checkpoints": after["checkpoints"] - before["checkpoints"],
        "running_at_start": before["running"],
        "running_at_end": after["running"],
    }


def _script(lo: int, hi: int, token: str, pause_ms: float = 0) -> str:
    fd, path = tempfile.mkstemp(prefix="bench-approve-", suffix=".lua")
    with os.fdopen(fd, "w") as fh:
        fh.write(LUA.format(lo=lo, hi=hi, token=token, pause=int(round(pause_ms))))
    return path


def _prepare(settings: Settings, dbname: str, instances: int) -> tuple[tuple[int, int], str]:
    """Schema, a pool of bench instances, the definitions recorded, a user and a token."""
    database.recreate(settings, dbname)
    database.create_schema(settings, dbname)
    with psycopg.connect(settings.dsn(dbname)) as conn:
        pool = bare_sql.seed_pool(conn, instances)
    with psycopg.connect(settings.dsn(dbname), autocommit=True) as conn:
        conn.execute("VACUUM ANALYZE")
    app = app_env.create_app(settings, dbname)  # records the definitions, as gunicorn's would
    app_env.ensure_user(app)
    token = app_env.token(app)
    with app.app_context():
        from api.extensions import db

        db.engine.dispose()
    return pool, token


def run(settings: Settings, out: dict[str, Any], log: Callable[[str], None]) -> None:
    dbname = settings.dbname("http")
    app_env.flush_redis(settings)
    pool, token = _prepare(settings, dbname, settings.pool_instances)
    server = Server(settings, dbname, workers=settings.http_workers, threads=settings.http_threads)
    scripts: list[str] = []
    try:
        base = f"http://127.0.0.1:{server.port}"
        d = settings.http_duration_s
        hello = wrk(f"{base}/healthz", connections=16, seconds=d)
        log(f"  hello (/healthz, 16 connections): {hello['per_s']:,.0f}/s p99 {hello['p99_ms']} ms")
        script = _script(*pool, token)
        scripts.append(script)
        wrk(f"{base}/", connections=4, seconds=2, script=script)  # warm-up: connections, caches
        # The bare Flask endpoint (bench/bare_flask.py) under the same gunicorn layout, on
        # the same database and instances; each concurrency level runs on both, interleaved.
        bare_server = Server(
            settings,
            dbname,
            workers=settings.http_workers,
            threads=settings.http_threads,
            app="bench.bare_flask:app",
        )
        bare_base = f"http://127.0.0.1:{bare_server.port}"
        wrk(f"{bare_base}/", connections=4, seconds=2, script=script)
        levels, bare_levels = [], []
        try:
            for c in settings.http_concurrency:
                # Both apps twice, interleaved (riskloop, bare, bare, riskloop): a burst of
                # the machine's other load in one window weighs on both sides alike.
                ours = [_window(server, f"{base}/", c, d, script)]
                bare = [_window(bare_server, f"{bare_base}/", c, d, script) for _ in range(2)]
                ours.append(_window(server, f"{base}/", c, d, script))
                r, b = _combined(ours), _combined(bare)
                levels.append(r)
                log(
                    f"  approve, {c:>3} connections: {r['per_s']:,.0f}/s "
                    f"({_each(ours)}) p50 {r['p50_ms']} ms p99 {r['p99_ms']} ms "
                    f"non-2xx {r['non_2xx']} socket errors {r['socket_errors']}"
                    f"; in the worker: wall p99 {r['in_worker']['wall_p99_ms']} ms, "
                    f"CPU p50/p99 {r['in_worker']['cpu_p50_ms']}/{r['in_worker']['cpu_p99_ms']} ms"
                    f", processes' CPU {r['in_worker']['process_cpu_ms']} ms per request"
                    + (
                        f" statuses {r['statuses']} e.g. {r.get('sample_error')}"
                        if r.get("statuses")
                        else ""
                    )
                )
                b["load_average"] = os.getloadavg()[0]
                bare_levels.append(b)
                log(
                    f"  bare Flask, {c:>3} connections: {b['per_s']:,.0f}/s ({_each(bare)}) "
                    f"p50 {b['p50_ms']} ms p99 {b['p99_ms']} ms non-2xx {b['non_2xx']}; in the "
                    f"worker: CPU p50 {b['in_worker']['cpu_p50_ms']} ms, processes' CPU "
                    f"{b['in_worker']['process_cpu_ms']} ms per request; "
                    f"load average {b['load_average']:.1f}"
                )
        finally:
            bare_server.stop()
        peak = max(levels, key=lambda r: r["per_s"] or 0)
        bare_peak = max(bare_levels, key=lambda r: r["per_s"] or 0)
        half = (peak["per_s"] or 0) / 2
        # Paced run: 16 connections, each pausing (exponential think time, mean `pause`)
        # so that together they offer ~half the peak.
        conns = 16
        below = [r for r in levels if (r["per_s"] or 0) <= half] or levels[:1]
        service_ms = below[-1]["p50_ms"] or 0
        pause = max(0.0, conns / half * 1000 - service_ms) if half else 0
        paced_script = _script(*pool, token, pause)
        scripts.append(paced_script)
        t0, maintenance = time.time(), _maintenance(settings, dbname)
        paced = wrk(f"{base}/", connections=conns, seconds=max(d, 5), script=paced_script)
        paced["maintenance_meanwhile"] = _maintenance_since(settings, dbname, maintenance)
        paced["in_worker"] = server.in_worker(t0, time.time())
        paced["load_average"] = os.getloadavg()[0]
        paced["target_per_s"] = round(half, 1)
        paced["pause_ms"] = round(pause, 1)
        paced["pauses"] = "exponential, mean pause_ms"
        log(
            f"  approve paced at ~half the peak ({half:,.0f}/s offered, got {paced['per_s']:,.0f}/s): "
            f"p50 {paced['p50_ms']} ms p99 {paced['p99_ms']} ms; in the worker: wall p50/p99 "
            f"{paced['in_worker']['wall_p50_ms']}/{paced['in_worker']['wall_p99_ms']} ms, CPU p50/p99 "
            f"{paced['in_worker']['cpu_p50_ms']}/{paced['in_worker']['cpu_p99_ms']} ms; "
            f"load average {paced['load_average']:.1f} on {os.cpu_count()} cores; "
            f"server maintenance meanwhile: {paced['maintenance_meanwhile']}"
        )
        out["http"] = {
            "server": " ".join(server.cmd[1:]),
            "server_note": server.note,
            "layout": {"workers": server.workers, "threads": server.threads},
            "hello": hello,
            "levels": levels,
            "paced": paced,
            "worker_rss_mb_after": server.worker_rss_mb(),
        }
        out["http_hello_per_s"] = hello["per_s"]
        out["http_peak_per_s"] = peak["per_s"]
        out["http_peak_connections"] = peak["connections"]
        out["http_p50_ms"] = paced["p50_ms"]
        out["http_p99_ms"] = paced["p99_ms"]
        out["http_layout"] = f"{server.workers} workers x {server.threads} threads"
        out["http"]["bare_flask"] = {"levels": bare_levels, "peak": bare_peak}
        out["http_bare_flask_per_s"] = bare_peak["per_s"]
        out["http_vs_bare_flask"] = (
            round(peak["per_s"] / bare_peak["per_s"], 3)
            if peak["per_s"] and bare_peak["per_s"]
            else None
        )
        out["http_cpu_ms"] = peak["in_worker"]["cpu_p50_ms"]
        out["http_bare_flask_cpu_ms"] = bare_peak["in_worker"]["cpu_p50_ms"]
        out["http_process_cpu_ms"] = peak["in_worker"]["process_cpu_ms"]
        out["http_bare_flask_process_cpu_ms"] = bare_peak["in_worker"]["process_cpu_ms"]
        log(
            f"  riskloop peak {peak['per_s']:,.0f}/s vs bare Flask {bare_peak['per_s']:,.0f}/s: "
            f"{out['http_vs_bare_flask']}"
        )
        errors = sum(r["non_2xx"] + r["socket_errors"] for r in levels + [paced])
        if errors:
            out["http"]["errors_note"] = (
                f"{errors} non-2xx responses or socket errors in the approve runs"
            )
    finally:
        server.stop()
        for s in scripts:
            os.unlink(s)
        database.drop(settings, dbname)
        app_env.flush_redis(settings)


class _Driver(threading.Thread):
    """Keep-alive client firing approvals until a shared budget is spent."""

    def __init__(
        self,
        port: int,
        token: str,
        pool: tuple[int, int],
        budget: list[int],
        lock: threading.Lock,
        deadline: float,
        seed: int,
    ) -> None:
        super().__init__(daemon=True)
        self.port, self.token, self.pool = port, token, pool
        self.budget, self.lock, self.deadline = budget, lock, deadline
        self.rng = random.Random(seed)
        self.done = 0
        self.errors = 0

    def run(self) -> None:
        conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        headers = {"Content-Type": "application/json", "Authorization": f"Bearer {self.token}"}
        while time.time() < self.deadline:
            with self.lock:
                if self.budget[0] <= 0:
                    break
                self.budget[0] -= 1
            iid = self.rng.randint(*self.pool)
            try:
                conn.request(
                    "POST", f"/api/v1/workflows/{iid}/actions/approve", body=b"{}", headers=headers
                )
                resp = conn.getresponse()
                resp.read()
                if resp.status == 200:
                    self.done += 1
                else:
                    self.errors += 1
            except (OSError, http.client.HTTPException):
                self.errors += 1
                conn.close()
                conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=30)
        conn.close()


def _drive(
    port: int, token: str, pool: tuple[int, int], count: int, deadline: float, clients: int = 6
) -> tuple[int, int]:
    budget, lock = [count], threading.Lock()
    drivers = [_Driver(port, token, pool, budget, lock, deadline, seed=i) for i in range(clients)]
    for d in drivers:
        d.start()
    for d in drivers:
        d.join()
    return sum(d.done for d in drivers), sum(d.errors for d in drivers)


def run_worker_rss(settings: Settings, out: dict[str, Any], log: Callable[[str], None]) -> None:
    dbname = settings.dbname("rss")
    app_env.flush_redis(settings)
    pool, token = _prepare(settings, dbname, settings.rss_instances)
    server = Server(settings, dbname, workers=1, threads=settings.http_threads)
    try:
        start_rss = server.worker_rss_mb()
        done, errors = _drive(server.port, token, pool, 100, time.time() + 120)
        after_100 = server.worker_rss_mb()
        t0 = time.time()
        more, more_errors = _drive(
            server.port, token, pool, settings.rss_transitions - 100, t0 + settings.rss_cap_s
        )
        elapsed = time.time() - t0
        after_n = server.worker_rss_mb()
        total = done + more
        result = {
            "server": " ".join(server.cmd[1:]),
            "server_note": server.note,
            "instances": settings.rss_instances,
            "transitions": total,
            "target_transitions": settings.rss_transitions,
            "capped": total < settings.rss_transitions,
            "errors": errors + more_errors,
            "per_s": round(more / elapsed, 1) if elapsed else None,
            "rss_mb_at_start": start_rss[0] if start_rss else None,
            "rss_mb_after_100": after_100[0] if after_100 else None,
            "rss_mb_after_all": after_n[0] if after_n else None,
        }
        if after_100 and after_n:
            result["growth_mb"] = round(after_n[0] - after_100[0], 1)
        out["worker_rss"] = result
        out["worker_rss_mb"] = {
            "after_100": result["rss_mb_after_100"],
            "after_all": result["rss_mb_after_all"],
            "transitions": total,
        }
        log(
            f"  one gunicorn worker: RSS {result['rss_mb_after_100']} MB after 100 transitions, "
            f"{result['rss_mb_after_all']} MB after {total:,} on {settings.rss_instances:,} instances "
            f"({result['per_s']}/s, errors {result['errors']})"
            + (" — capped in time" if result["capped"] else "")
        )
    finally:
        server.stop()
        database.drop(settings, dbname)
        app_env.flush_redis(settings)


def main() -> None:
    from .config import load

    results: dict[str, Any] = {}
    settings = load()
    run(settings, results, print)
    print(json.dumps(results, indent=2, default=str))


if __name__ == "__main__":
    main()
