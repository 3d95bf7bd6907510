"""Structured JSON log lines on stderr, each with the request id when there is one.

Nothing here logs request bodies, query strings, headers or user data: the
access line carries method, route, status and duration only. As a second line
of defence, values that look like secrets (bearer tokens, passwords, keys) are
masked in any message.
"""

from __future__ import annotations

import json
import logging
import os
import re
import sys
import time
from datetime import UTC, datetime
from typing import Any

from flask import has_request_context

from .contexts import this_g

_SECRETS = re.compile(
    r"(?i)(bearer\s+|password[\"']?\s*[:=]\s*[\"']?|secret[\"']?\s*[:=]\s*[\"']?|"
    r"token[\"']?\s*[:=]\s*[\"']?|key[\"']?\s*[:=]\s*[\"']?)[^\s\"',}]+"
)
_FIELDS = ("method", "route", "status", "duration_ms", "outbox_id", "instance_id")


def mask(text: str) -> str:
    """Replace what follows ``Bearer``, ``password=``, ``token:`` … with ``***``."""
    return _SECRETS.sub(lambda m: m.group(1) + "***", text)


def current_request_id() -> str | None:
    if has_request_context():
        found: str | None = this_g().get("request_id")
        return found
    return None


class JsonFormatter(logging.Formatter):
    def format(self, record: logging.LogRecord) -> str:
        entry: dict[str, Any] = {
            "ts": datetime.fromtimestamp(record.created, UTC).isoformat(timespec="milliseconds"),
            "level": record.levelname,
            "logger": record.name,
            "msg": mask(record.getMessage()),
            "pid": record.process,
        }
        request_id = getattr(record, "request_id", None) or current_request_id()
        if request_id:
            entry["request_id"] = request_id
        for name in _FIELDS:
            if hasattr(record, name):
                entry[name] = getattr(record, name)
        if record.exc_info:
            entry["exc"] = mask(self.formatException(record.exc_info))
        return json.dumps(entry, ensure_ascii=False, default=str)


def configure(level: str | None = None, fmt: str | None = None) -> None:
    """Install one stderr handler on the root logger (JSON unless RISKLOOP_LOG_FORMAT=text)."""
    level = level or os.environ.get("RISKLOOP_LOG_LEVEL", "INFO")
    fmt = fmt or os.environ.get("RISKLOOP_LOG_FORMAT", "json")
    handler = logging.StreamHandler(sys.stderr)
    if fmt == "text":
        handler.setFormatter(logging.Formatter("%(asctime)s %(levelname)s %(name)s: %(message)s"))
    else:
        handler.setFormatter(JsonFormatter())
    root = logging.getLogger()
    for old in list(root.handlers):
        if getattr(old, "_riskloop", False):
            root.removeHandler(old)
    handler._riskloop = True  # type: ignore[attr-defined]
    root.addHandler(handler)
    root.setLevel(level.upper())


ACCESS = logging.getLogger("riskloop.access")


def log_access(method: str, route: str, status: int, started: float) -> None:
    """One line per request: route template (never the query string or body)."""
    ACCESS.info(
        "%s %s %s",
        method,
        route,
        status,
        extra={
            "method": method,
            "route": route,
            "status": status,
            "request_id": current_request_id(),
            "duration_ms": round((time.perf_counter() - started) * 1000, 1),
        },
    )
