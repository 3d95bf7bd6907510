"""The printed table and ``bench/results.json``."""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

# BENCH_RESULTS writes elsewhere (e.g. a one-section re-run that must not replace a full run's file).
RESULTS = Path(os.environ.get("BENCH_RESULTS") or Path(__file__).parent / "results.json")

# (key, label, unit, bar text, check(value, results) -> bool | None)
ROWS: list[tuple[str, str, str, str, Any]] = [
    ("fire_per_s", "engine fire(), 16 clients", "/s", "", None),
    ("bare_sql_per_s", "bare SQL, same row writes, 16 clients", "/s", "", None),
    ("fire_vs_bare", "fire / bare SQL", "×", ">= 0.8", lambda v, r: v >= 0.8),
    ("fire_cpu_ms", "fire() CPU per transition, one client", "ms", "", None),
    ("bare_sql_cpu_ms", "bare SQL CPU per transition, one client", "ms", "", None),
    (
        "fire_round_trips",
        "fire() round trips (BEGIN, COMMIT included)",
        "",
        "<= 3",
        lambda v, r: v <= 3,
    ),
    ("embedded_fire_per_s", "embedded: fire() on SQLite, one process", "/s", "", None),
    ("peer_spiff_per_s", "SpiffWorkflow + PostgreSQL, 16 clients", "/s", "", None),
    ("fire_vs_spiff", "fire / SpiffWorkflow", "×", ">= 2.0", lambda v, r: v >= 2.0),
    ("http_hello_per_s", "HTTP no-database endpoint (ceiling)", "/s", "", None),
    ("http_peak_per_s", "HTTP approve, peak", "/s", "", None),
    ("http_bare_flask_per_s", "HTTP bare Flask + psycopg, same writes, peak", "/s", "", None),
    ("http_vs_bare_flask", "HTTP approve / bare Flask", "×", ">= 0.8", lambda v, r: v >= 0.8),
    ("http_cpu_ms", "HTTP approve CPU in the worker (at peak)", "ms", "", None),
    ("http_bare_flask_cpu_ms", "bare Flask CPU in the worker (at peak)", "ms", "", None),
    ("http_process_cpu_ms", "HTTP approve, workers' CPU per request", "ms", "", None),
    ("http_bare_flask_process_cpu_ms", "bare Flask, workers' CPU per request", "ms", "", None),
    ("embedded_http_per_s", "embedded: approve via `riskloop run`, 1 conn.", "/s", "", None),
    ("http_p50_ms", "HTTP approve p50 at half the peak", "ms", "", None),
    ("http_p99_ms", "HTTP approve p99 at half the peak", "ms", "< 50", lambda v, r: v < 50),
    (
        "scale.fire_ratio",
        "fire latency, large / small history",
        "×",
        "<= 1.2",
        lambda v, r: v <= 1.2,
    ),
    (
        "scale.inbox_ratio",
        "inbox latency, large / small history",
        "×",
        "<= 1.2",
        lambda v, r: v <= 1.2,
    ),
    (
        "scale.read_ratio",
        "instance read latency, large / small",
        "×",
        "<= 1.2",
        lambda v, r: v <= 1.2,
    ),
    ("scale.inbox_seq_scans", "sequential scans in the inbox plans", "", "0", lambda v, r: v == 0),
    ("verify_records_per_s", "audit verify throughput", "rec/s", "", None),
    ("verify_peak_rss_mb", "audit verify peak RSS", "MB", "flat", None),
    (
        "verify_rss_growth_mb",
        "verify RSS growth, 10% → end",
        "MB",
        "flat (< 20)",
        lambda v, r: v < 20,
    ),
    (
        "worker_rss.growth_mb",
        "API worker RSS growth, 100 → N transitions",
        "MB",
        "flat (< 20)",
        lambda v, r: v < 20,
    ),
    ("names.accuracy.precision", "name screening precision (fixture)", "", "", None),
    ("names.accuracy.recall", "name screening recall (fixture)", "", "", None),
    ("names.index.build_s", "name index build, N entries", "s", "", None),
    ("names.index.index_rss_mb", "name index memory, N entries", "MB", "", None),
    ("names.index.p50_ms", "one name vs N entries, p50", "ms", "", None),
    ("names.index.p95_ms", "one name vs N entries, p95", "ms", "", None),
    ("names.import.seconds", "watch-list import, N rows (streamed CSV)", "s", "", None),
    (
        "names.import.rss_growth_mb",
        "watch-list import RSS growth, 10% → end",
        "MB",
        "flat (< 20)",
        lambda v, r: v < 20,
    ),
    ("names.rescreen.seconds", "re-screen active clients vs 1,000-entry delta", "s", "", None),
    (
        "names.rescreen.rss_growth_mb",
        "re-screen RSS growth, 10% → end",
        "MB",
        "flat (< 20)",
        lambda v, r: v < 20,
    ),
    ("events_monitored_per_s", "risk events through the monitoring rules", "/s", "", None),
    ("events_bare_per_s", "bare INSERT of the same event rows", "/s", "", None),
    ("events_vs_bare", "monitored events / bare inserts", "×", "", None),
    (
        "backtest_clients_per_s",
        "backtest: clients re-rated by a candidate rule set",
        "/s",
        "",
        None,
    ),
    ("migration.apply_per_s", "open instances moved to a new version (apply)", "/s", "", None),
    ("migration.plan_per_s", "open instances classified (dry run)", "/s", "", None),
    ("migration.revert_per_s", "moved instances put back (revert)", "/s", "", None),
]


def lookup(results: dict[str, Any], dotted: str) -> Any:
    value: Any = results
    for part in dotted.split("."):
        if not isinstance(value, dict) or part not in value:
            return None
        value = value[part]
    return value


def bars(results: dict[str, Any]) -> dict[str, Any]:
    out = {}
    for key, _label, _unit, bar, check in ROWS:
        if check is None:
            continue
        value = lookup(results, key)
        out[key] = {
            "bar": bar,
            "value": value,
            "pass": None if value is None else bool(check(value, results)),
        }
    return out


def _fmt(value: Any) -> str:
    if value is None:
        return "—"
    if isinstance(value, float):
        return f"{value:,.2f}" if abs(value) < 100 else f"{value:,.0f}"
    if isinstance(value, int):
        return f"{value:,}"
    return str(value)


def table(results: dict[str, Any]) -> str:
    checks = results.get("bars", {})
    lines = []
    m = results.get("machine", {})
    lines.append(
        f"riskloop bench — {m.get('date')} — {m.get('cores')} cores, {m.get('memory_gib')} GiB, "
        f"PostgreSQL {m.get('postgresql')}, Python {m.get('python')}"
        + (" — QUICK" if results.get("quick") else "")
    )
    busy = [
        round(x, 1)
        for x in (m.get("load_average_at_start") or [])[:1]
        + (m.get("load_average_at_end") or [])[:1]
    ]
    if busy and m.get("cores") and max(busy) > m["cores"]:
        lines.append(
            f"WARNING: the machine was busy with other work (load average {busy} on "
            f"{m['cores']} cores): absolute figures are low; ratios measured side by side hold better"
        )
    width = max(len(r[1]) for r in ROWS) + 2
    lines.append(f"{'figure':<{width}}{'value':>14}  {'unit':<6}{'bar':<12}result")
    lines.append("-" * (width + 44))
    for key, label, unit, bar, _check in ROWS:
        value = lookup(results, key)
        verdict = ""
        if key in checks and checks[key]["pass"] is not None:
            verdict = "PASS" if checks[key]["pass"] else "FAIL"
        elif value is None:
            verdict = "not measured"
        lines.append(f"{label:<{width}}{_fmt(value):>14}  {unit:<6}{bar:<12}{verdict}")
    skipped = results.get("skipped") or {}
    for section, why in skipped.items():
        lines.append(f"  [{section}] skipped: {why}")
    errors = results.get("errors") or {}
    for section, why in errors.items():
        lines.append(f"  [{section}] FAILED: {why}")
    return "\n".join(lines)


def write(results: dict[str, Any], path: Path = RESULTS) -> None:
    path.write_text(json.dumps(results, indent=2, ensure_ascii=False, default=str) + "\n")
