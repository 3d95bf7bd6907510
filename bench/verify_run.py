"""Audit verification over the scale database: throughput and memory.

Runs the real command, ``riskloop audit verify``, in a child process against the
large history the scale section built (10 million records in the full run),
reads its progress lines ("verified N records…") with their arrival times, and
samples the child's resident memory from ``/proc/<pid>/status`` (VmRSS, and
VmHWM for the peak). Memory is flat when the RSS at the end is that at 10 % of
the records. The run is capped in time (``verify_cap_s``); a capped run reports
the records it verified and the rate, and says so.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import sys
import threading
import time
from collections.abc import Callable
from typing import Any

import psycopg

from . import app_env, database
from .config import Settings

PROGRESS = re.compile(r"verified (\d+) records")
DONE = re.compile(r"audit trail verified: (\d+) records in (\d+) streams")


def _status_kb(pid: int) -> dict[str, int]:
    out = {}
    try:
        with open(f"/proc/{pid}/status") as fh:
            for line in fh:
                if line.startswith(("VmRSS:", "VmHWM:")):
                    key, value = line.split(":", 1)
                    out[key] = int(value.split()[0])
    except OSError:
        pass
    return out


def command() -> list[str]:
    exe = shutil.which("riskloop", path=os.path.dirname(sys.executable))
    if exe:
        return [exe, "audit", "verify"]
    return [sys.executable, "-c", "from api.cli import main; main()", "audit", "verify"]


def run(settings: Settings, out: dict[str, Any], log: Callable[[str], None]) -> None:
    dbname = out.get("_scale_db")
    if not dbname:
        raise RuntimeError(
            "the scale section did not leave its database; run it first "
            "(BENCH_SECTIONS=scale,verify)"
        )
    try:
        with psycopg.connect(settings.dsn(dbname)) as conn:
            total = conn.execute("SELECT count(*) FROM audit_records").fetchone()[0]
        cap = settings.verify_cap_s
        env = app_env.environ(settings, dbname)
        env["PYTHONUNBUFFERED"] = "1"
        t_start = time.perf_counter()
        proc = subprocess.Popen(
            command(),
            env=env,
            stdout=subprocess.PIPE,
            stderr=subprocess.STDOUT,
            text=True,
            cwd=os.getcwd(),
        )
        marks: list[tuple[float, int]] = []
        tail: list[str] = []
        finished: dict[str, Any] = {}

        def reader() -> None:
            assert proc.stdout is not None
            for line in proc.stdout:
                now = time.perf_counter()
                m = PROGRESS.search(line)
                if m:
                    marks.append((now, int(m.group(1))))
                    continue
                m = DONE.search(line)
                if m:
                    finished.update(records=int(m.group(1)), streams=int(m.group(2)), at=now)
                tail.append(line.rstrip())
                del tail[:-20]

        thread = threading.Thread(target=reader, daemon=True)
        thread.start()
        samples: list[tuple[float, int, int]] = []  # (time, records so far, rss kB)
        hwm = 0
        capped = False
        while proc.poll() is None:
            st = _status_kb(proc.pid)
            if st:
                hwm = max(hwm, st.get("VmHWM", 0))
                samples.append(
                    (time.perf_counter(), marks[-1][1] if marks else 0, st.get("VmRSS", 0))
                )
            if time.perf_counter() - t_start > cap:
                capped = True
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=10)
                except subprocess.TimeoutExpired:
                    proc.kill()
                    proc.wait()
                break
            time.sleep(0.25)
        thread.join(timeout=5)
        wall = time.perf_counter() - t_start
        verified = finished.get("records") or (marks[-1][1] if marks else 0)
        if len(marks) >= 2:
            (t0, n0), (t1, n1) = marks[0], marks[-1]
            rate = (n1 - n0) / (t1 - t0) if t1 > t0 else None
        else:
            rate = verified / wall if wall and verified else None
        rss_at_10 = next((rss for _, n, rss in samples if n >= 0.1 * max(verified, 1)), None)
        rss_end = samples[-1][2] if samples else None
        result = {
            "command": " ".join(command()),
            "audit_records": total,
            "records_verified": verified,
            "completed": bool(finished) and not capped,
            "exit_code": proc.returncode,
            "capped_after_s": cap if capped else None,
            "wall_s": round(wall, 1),
            "chain_phase_s": round(marks[-1][0] - t_start, 1) if marks else None,
            "records_per_s": round(rate, 1) if rate else None,
            "rss_mb_at_10pct": round(rss_at_10 / 1024, 1) if rss_at_10 else None,
            "rss_mb_at_end": round(rss_end / 1024, 1) if rss_end else None,
            "peak_rss_mb": round(hwm / 1024, 1) if hwm else None,
            "rss_timeline_mb": [
                (round(t - t_start, 1), n, round(r / 1024, 1))
                for t, n, r in samples[:: max(1, len(samples) // 40)]
            ],
            "output_tail": tail[-5:],
        }
        out["verify"] = result
        out["verify_records_per_s"] = result["records_per_s"]
        out["verify_peak_rss_mb"] = result["peak_rss_mb"]
        later = [rss for _, n, rss in samples if n >= 0.1 * max(verified, 1)]
        if rss_at_10 and later:
            # growth while streaming; the peak may come from start-up (imports, app)
            out["verify_rss_growth_mb"] = round((max(later) - rss_at_10) / 1024, 1)
        log(
            f"  verify: {verified:,} of {total:,} records, {result['records_per_s']} records/s, "
            f"RSS {result['rss_mb_at_10pct']} MB at 10 % → peak {result['peak_rss_mb']} MB"
            + (f" (capped after {cap} s)" if capped else f", exit {proc.returncode}")
        )
        if not capped and proc.returncode not in (0, None):
            raise RuntimeError(f"verify exited {proc.returncode}: {' | '.join(tail[-3:])}")
    finally:
        database.drop(settings, dbname)
        out.pop("_scale_db", None)
