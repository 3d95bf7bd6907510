"""Liveness, readiness (database and broker) and Prometheus metrics."""

from __future__ import annotations

import hmac
import ipaddress
import time
from typing import Any

from flask import Blueprint, Response, current_app, jsonify, request
from prometheus_client import CONTENT_TYPE_LATEST, Counter, Histogram, generate_latest
from sqlalchemy import text

from ..config import is_embedded
from ..extensions import db
from ..problems import problem

blp = Blueprint("health", __name__)

REQUESTS = Counter(
    "riskloop_http_requests_total", "HTTP requests", ["method", "endpoint", "status"]
)
LATENCY = Histogram("riskloop_http_request_seconds", "HTTP request latency", ["method", "endpoint"])


@blp.get("/healthz")
def healthz() -> Response:
    return jsonify({"status": "ok"})


@blp.get("/readyz")
def readyz() -> Response:
    checks: dict[str, str] = {}
    try:
        db.session.execute(text("select 1"))
        db.session.rollback()
        checks["database"] = "ok"
    except Exception as exc:  # any failure means not ready
        db.session.rollback()
        checks["database"] = f"unavailable: {type(exc).__name__}"
    redis_url = current_app.config.get("REDIS_URL")
    if redis_url:
        try:
            import redis

            redis.Redis.from_url(redis_url, socket_connect_timeout=1, socket_timeout=1).ping()
            checks["broker"] = "ok"
        except Exception as exc:
            checks["broker"] = f"unavailable: {type(exc).__name__}"
    else:
        checks["broker"] = "ok (embedded)"
    failing = [name for name, state in checks.items() if not state.startswith("ok")]
    if not failing:
        return jsonify({"status": "ready", "checks": checks})
    # Not ready: a problem document naming what does not answer.
    response = problem(
        503,
        "Service not ready",
        f"{' and '.join(failing)} unavailable",
        slug="unavailable",
        unavailable=failing,
        checks=checks,
    )
    response.headers["Retry-After"] = "2"
    return response


@blp.get("/metrics")
def metrics() -> Response:
    """Prometheus metrics: to the bearer of ``RISKLOOP_METRICS_TOKEN`` when it is set;
    without it, only to loopback callers of an embedded (SQLite) install."""
    refusal = _metrics_refusal()
    if refusal is not None:
        return refusal
    return Response(generate_latest(), content_type=CONTENT_TYPE_LATEST)


def _metrics_refusal() -> Response | None:
    token = current_app.config.get("RISKLOOP_METRICS_TOKEN") or ""
    if token:
        scheme, _, sent = request.headers.get("Authorization", "").partition(" ")
        if scheme.lower() == "bearer" and hmac.compare_digest(
            sent.strip().encode(), token.encode()
        ):
            return None
        response = problem(
            401,
            "Authentication required",
            "send 'Authorization: Bearer <RISKLOOP_METRICS_TOKEN>'",
            slug="unauthenticated",
        )
        response.headers["WWW-Authenticate"] = 'Bearer realm="metrics"'
        return response
    if is_embedded(current_app.config) and _loopback(request.remote_addr):
        return None
    return problem(
        403,
        "Forbidden",
        "/metrics needs RISKLOOP_METRICS_TOKEN, sent as 'Authorization: Bearer <token>' "
        "(without it only loopback callers of an embedded install are served)",
        slug="forbidden",
    )


def _loopback(address: str | None) -> bool:
    try:
        return ipaddress.ip_address(address or "").is_loopback
    except ValueError:
        return False


_CHILDREN: dict[tuple[str, str, int], tuple[Any, Any]] = {}


def observe(method: str, endpoint: str, status: int, started: float) -> None:
    # The labelled series of a (method, route, status) are looked up once: ``labels()``
    # validates and locks on every call. Routes are templates, so the keys are bounded.
    key = (method, endpoint, status)
    children = _CHILDREN.get(key)
    if children is None:
        children = _CHILDREN[key] = (
            REQUESTS.labels(method, endpoint, str(status)),
            LATENCY.labels(method, endpoint),
        )
    children[0].inc()
    children[1].observe(time.perf_counter() - started)
