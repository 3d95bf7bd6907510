"""Login rate limiting (Flask-Limiter): a bound on sign-in attempts per client address.

Account lockout after repeated failures is the account's own defence
(``workflow.accounts.users``); this limit stops one address from spraying many
accounts. Counters live in Redis when ``REDIS_URL`` is set (shared by every
gunicorn process and machine), in process memory otherwise. If Redis is down
the limiter falls back to memory rather than refusing every sign-in.
"""

from __future__ import annotations

import logging

from flask import Flask, request
from flask_limiter import Limiter

log = logging.getLogger(__name__)

DEFAULT_LOGIN_LIMIT = "30 per minute;300 per hour"


def client_address() -> str:
    """The caller's address (behind a proxy, ProxyFix has already put the client's here)."""
    return request.remote_addr or "unknown"


def install(app: Flask) -> Limiter:
    """Limit ``POST /api/v1/auth/token``; the 429 becomes a problem document."""
    redis_url = app.config.get("REDIS_URL")
    limiter = Limiter(
        client_address,
        app=app,
        storage_uri=redis_url or "memory://",
        storage_options={"socket_connect_timeout": 1, "socket_timeout": 1} if redis_url else {},
        strategy="moving-window",
        key_prefix="riskloop-login",
        headers_enabled=True,
        swallow_errors=True,
        in_memory_fallback_enabled=True,
        default_limits=[],
    )
    rate = str(app.config.get("RISKLOOP_LOGIN_RATE_LIMIT", DEFAULT_LOGIN_LIMIT))
    auth = app.blueprints.get("auth")
    if auth is not None:
        limiter.limit(rate, methods=["POST"])(auth)
    # Only sign-in is limited: every other request skips the limiter's per-request
    # look-up of its limits (measured at ~5 % of an approve's CPU).
    limiter.request_filter(lambda: request.blueprint != "auth")
    app.extensions["riskloop"]["limiter"] = limiter
    return limiter
