"""Login rate limiting (Flask-Limiter): a bound on sign-in attempts per client address.

Account lockout after repeated failures is the account's own defence
(``workflow.accounts.users``); this limit stops one address from spraying many
accounts. Counters live in Redis when ``REDIS_URL`` is set (shared by every
gunicorn process and machine), in process memory otherwise. If Redis is down
the limiter falls back to memory rather than refusing every sign-in.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial
from typing import Any

from flask import Flask, request
from flask_limiter import Limiter

from .contexts import this_request

log = logging.getLogger(__name__)

DEFAULT_LOGIN_LIMIT = "30 per minute;300 per hour"


def client_address() -> str:
    """The caller's address (behind a proxy, ProxyFix has already put the client's here)."""
    return request.remote_addr or "unknown"


def install(app: Flask) -> Limiter:
    """Limit sign-in: ``POST /api/v1/auth/token`` and the console's ``POST /login`` share
    one budget per address (an attacker gains nothing by alternating). The API's 429 is a
    problem document, the console's a page of its own."""
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
    sign_in = limiter.shared_limit(rate, scope="sign-in", methods=["POST"])
    auth = app.blueprints.get("auth")
    if auth is not None:
        sign_in(auth)
    console_login = app.view_functions.get("console.login")
    if console_login is not None:  # a decorated view checks its limit when called
        app.view_functions["console.login"] = sign_in(console_login)
    # Only sign-in is limited: every other request skips the limiter's per-request
    # look-up of its limits (measured at ~5 % of an approve's CPU) — the filter below,
    # and, cheaper still, the gate in front of the limiter's before-request hook (its
    # check of a filtered request still cost ~3 % of an approve).
    limiter.request_filter(lambda: not _signing_in())
    _gate_the_check(app, limiter)
    app.extensions["riskloop"]["limiter"] = limiter
    return limiter


def _signing_in() -> bool:
    req = this_request()
    return req.blueprint == "auth" or req.endpoint == "console.login"


def _gate_the_check(app: Flask, limiter: Limiter) -> None:
    """Run the limiter's hooks only for sign-in. For any other request its before-request
    check would find every limit filtered out and set nothing, and its after-request and
    teardown hooks would find nothing to add or release (each still built the request's
    limiter context): skipping them changes nothing."""
    hooks = app.before_request_funcs.setdefault(None, [])
    check = limiter._check_request_limit
    at = hooks.index(check)  # a bound method: equal to the one Limiter registered

    def check_sign_in_limit() -> None:
        if _signing_in():
            check()

    hooks[at] = check_sign_in_limit
    after = app.after_request_funcs.setdefault(None, [])
    for i, hook in enumerate(after):
        if isinstance(hook, partial) and hook.args == (limiter,):  # its header injection
            after[i] = _for_sign_in_only(hook)
    teardown = app.teardown_request_funcs.setdefault(None, [])
    for i, hook in enumerate(teardown):
        if getattr(hook, "__self__", None) is limiter:  # its context release
            teardown[i] = _for_sign_in_only(hook)


def _for_sign_in_only(hook: Callable[[Any], Any]) -> Callable[[Any], Any]:
    def gated(value: Any) -> Any:
        return hook(value) if _signing_in() else value

    return gated
