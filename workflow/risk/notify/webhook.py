"""The generic webhook channel of ``notify`` (enterprise chat tools, SIEMs).

With ``RISKLOOP_NOTIFY_WEBHOOK_URL`` set, every notification is POSTed there as JSON,
signed like alert intake: ``X-Riskloop-Timestamp`` and ``X-Riskloop-Signature:
sha256=HMAC-SHA256(RISKLOOP_NOTIFY_WEBHOOK_SECRET, timestamp + "." + body)``;
``X-Riskloop-Delivery`` is stable across retries so the receiver can drop repeats.
A non-2xx answer or a network error is retried with backoff, then an incident.
"""

from __future__ import annotations

import json
import logging
import urllib.error
import urllib.request
from datetime import UTC

from workflow.engine.context import TaskContext
from workflow.engine.registry import Registry
from workflow.errors import TaskFailed
from workflow.platform import clock
from workflow.records.outbox import enqueue
from workflow.risk.alerts.intake import config
from workflow.risk.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

registry = Registry()

log = logging.getLogger(__name__)


@registry.channel
def webhook_channel(ctx: TaskContext, recipients: list[str], title: str) -> None:
    if not config(ctx.settings, "RISKLOOP_NOTIFY_WEBHOOK_URL"):
        return
    enqueue(
        ctx.session,
        "send_webhook",
        {
            "event": ctx.args.get("event", "info"),
            "title": title,
            "body": ctx.args.get("body", ""),
            "instance_id": ctx.args.get("instance_id"),
            "recipients": recipients,
        },
        instance_id=ctx.args.get("instance_id"),
    )


@registry.task("send_webhook")
def send_webhook(ctx: TaskContext) -> None:
    """POST one signed notification.

    Raises:
        TaskFailed: the receiver answered with an error (retried).
    """
    body = json.dumps(
        {**ctx.args, "delivery": ctx.outbox_id}, ensure_ascii=False, sort_keys=True
    ).encode("utf-8")
    timestamp = str(int(clock.now().replace(tzinfo=UTC).timestamp()))
    headers = {
        "Content-Type": "application/json",
        TIMESTAMP_HEADER: timestamp,
        "X-Riskloop-Delivery": str(ctx.outbox_id),
        "User-Agent": "riskloop",
    }
    secret = config(ctx.settings, "RISKLOOP_NOTIFY_WEBHOOK_SECRET")
    if secret:
        headers[SIGNATURE_HEADER] = sign(str(secret), timestamp, body)
    request = urllib.request.Request(
        str(config(ctx.settings, "RISKLOOP_NOTIFY_WEBHOOK_URL")),
        data=body,
        headers=headers,
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (configured URL)
            status = response.status
    except urllib.error.HTTPError as exc:
        raise TaskFailed(f"the notification webhook answered {exc.code}; it is retried") from exc
    log.info("notification webhook (outbox %s) delivered: %s", ctx.outbox_id, status)
