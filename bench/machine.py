"""What the figures were measured on: cores, memory, versions, date."""

from __future__ import annotations

import os
import platform
import sys
from datetime import UTC, datetime
from importlib.metadata import PackageNotFoundError, version
from typing import Any

from . import database
from .config import Settings


def _mem_total_gib() -> float | None:
    try:
        with open("/proc/meminfo") as fh:
            for line in fh:
                if line.startswith("MemTotal:"):
                    return round(int(line.split()[1]) / 1024 / 1024, 1)
    except OSError:
        return None
    return None


def _cpu_model() -> str | None:
    try:
        with open("/proc/cpuinfo") as fh:
            for line in fh:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        return None
    return None


def _pkg(name: str) -> str | None:
    try:
        return version(name)
    except PackageNotFoundError:
        return None


def load_average() -> list[float] | None:
    try:
        return [float(x) for x in os.getloadavg()]
    except OSError:
        return None


def describe(settings: Settings) -> dict[str, Any]:
    try:
        pg = database.server_version(settings)
    except Exception as exc:  # reported, not fatal: the sections will fail on their own
        pg = f"unavailable: {exc}"
    return {
        "date": datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ"),
        "cores": os.cpu_count(),
        "cpu": _cpu_model(),
        "memory_gib": _mem_total_gib(),
        "os": platform.platform(),
        "python": sys.version.split()[0],
        # Other work on the machine skews every figure: look here before comparing runs.
        "load_average_at_start": load_average(),
        "postgresql": pg,
        "packages": {
            name: _pkg(name)
            for name in (
                "SQLAlchemy",
                "psycopg",
                "Flask",
                "gunicorn",
                "transitions",
                "dramatiq",
                "SpiffWorkflow",
                "locust",
            )
        },
    }
