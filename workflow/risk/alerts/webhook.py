"""Signed alert intake: HMAC-SHA256 over ``<timestamp>.<raw body>`` with a shared secret.

Senders put the Unix time in ``X-Riskloop-Timestamp`` and ``sha256=<hex>`` in
``X-Riskloop-Signature``. A signature older (or newer) than five minutes is refused,
so a captured request cannot be replayed later; within the window a replay finds
the alert already recorded (deduplication by source and external id).
The secret is ``RISKLOOP_WEBHOOK_SECRET`` (configuration or environment).
"""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Mapping
from datetime import UTC, datetime, timedelta
from typing import Any

from workflow.errors import AuthenticationFailed
from workflow.platform import clock
from workflow.risk.alerts.intake import config

SECRET_SETTING = "RISKLOOP_WEBHOOK_SECRET"
TIMESTAMP_HEADER = "X-Riskloop-Timestamp"
SIGNATURE_HEADER = "X-Riskloop-Signature"
MAX_SKEW = timedelta(minutes=5)


def sign(secret: str, timestamp: str, body: bytes) -> str:
    """The signature header value for ``body`` sent at ``timestamp`` (Unix seconds)."""
    mac = hmac.new(secret.encode("utf-8"), timestamp.encode("ascii") + b"." + body, hashlib.sha256)
    return "sha256=" + mac.hexdigest()


def webhook_secret(settings: Mapping[str, Any]) -> str:
    """Raises:
    AuthenticationFailed: no secret is configured, so no request can be verified."""
    secret = config(settings, SECRET_SETTING)
    if not secret:
        raise AuthenticationFailed(
            f"signed alert intake is off: set {SECRET_SETTING} on the server "
            "and share it with the sender"
        )
    return str(secret)


def verify(
    timestamp: str | None, signature: str | None, body: bytes, settings: Mapping[str, Any]
) -> None:
    """Raises:
    AuthenticationFailed: missing, malformed, wrong or stale signature."""
    secret = webhook_secret(settings)
    if not timestamp or not signature:
        raise AuthenticationFailed(
            f"sign the request: send {TIMESTAMP_HEADER} (Unix seconds) and "
            f"{SIGNATURE_HEADER}: sha256=HMAC-SHA256(secret, timestamp + '.' + body)"
        )
    try:
        sent = datetime.fromtimestamp(int(timestamp), UTC).replace(tzinfo=None)
    except (ValueError, OverflowError, OSError) as exc:
        raise AuthenticationFailed(f"{TIMESTAMP_HEADER} must be Unix seconds") from exc
    if abs(clock.now() - sent) > MAX_SKEW:
        raise AuthenticationFailed(
            "the signature is older than 5 minutes (or from the future); "
            "sign the request again with the current time"
        )
    if not hmac.compare_digest(sign(secret, timestamp, body), signature.strip()):
        raise AuthenticationFailed(
            "the signature does not match the body; sign the exact raw body with the shared secret"
        )
