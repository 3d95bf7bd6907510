"""The e-mail channel of ``notify``: one outbox message per recipient, sent over SMTP.

Configured by ``RISKLOOP_SMTP_HOST`` / ``RISKLOOP_SMTP_PORT`` / ``RISKLOOP_SMTP_FROM``
(optionally ``RISKLOOP_SMTP_USER``, ``RISKLOOP_SMTP_PASSWORD``, ``RISKLOOP_SMTP_STARTTLS=1``);
without a host no mail is queued. A coded notification (the digest among them) is
worded in the recipient's language: the one they chose in the console, else
``RISKLOOP_LANGUAGE`` (zh-CN by default). Each mail is its own outbox message, so an SMTP
server that is down delays mail (retries with backoff, then an incident) without
holding back the in-app notification or any transition.
"""

from __future__ import annotations

import logging
import smtplib
from email.message import EmailMessage

from sqlalchemy import select

from workflow import texts
from workflow.engine.context import TaskContext
from workflow.engine.registry import Registry
from workflow.records.models import User
from workflow.records.outbox import enqueue
from workflow.risk.alerts.intake import config

registry = Registry()

log = logging.getLogger(__name__)


@registry.channel
def email_channel(ctx: TaskContext, recipients: list[str], title: str) -> None:
    if not config(ctx.settings, "RISKLOOP_SMTP_HOST") or not recipients:
        return
    rows = ctx.session.execute(
        select(User.username, User.email, User.language).where(
            User.username.in_(recipients), User.active.is_(True)
        )
    )
    default = str(config(ctx.settings, "RISKLOOP_LANGUAGE", "zh-CN"))
    for username, email, language in rows:
        if email:
            lang = language or default
            subject, body = texts.worded(ctx.args, lang, ctx.runtime.word, title)
            enqueue(
                ctx.session,
                "send_email",
                {
                    "to": email,
                    "username": username,
                    "subject": subject[:255],
                    "body": body or subject,
                    "language": lang,
                    "event": ctx.args.get("event", "info"),
                },
                instance_id=ctx.args.get("instance_id"),
            )


@registry.task("send_email")
def send_email(ctx: TaskContext) -> None:
    """Send one notification mail; an OSError (SMTP down or refusing) is retried."""
    message = EmailMessage()
    sender = str(config(ctx.settings, "RISKLOOP_SMTP_FROM", "riskloop@localhost"))
    message["From"] = sender
    message["To"] = ctx.args["to"]
    message["Subject"] = ctx.args["subject"]
    # Stable per outbox message: a resend after a crash is recognisable as the same mail.
    message["Message-ID"] = f"<riskloop-{ctx.outbox_id}@{sender.rpartition('@')[2] or 'riskloop'}>"
    message["X-Riskloop-Event"] = ctx.args.get("event", "info")
    message.set_content(ctx.args.get("body") or ctx.args["subject"])
    host = str(config(ctx.settings, "RISKLOOP_SMTP_HOST"))
    port = int(config(ctx.settings, "RISKLOOP_SMTP_PORT", 25))
    with smtplib.SMTP(host, port, timeout=10) as smtp:
        if str(config(ctx.settings, "RISKLOOP_SMTP_STARTTLS", "0")) == "1":
            smtp.starttls()
        user = config(ctx.settings, "RISKLOOP_SMTP_USER")
        if user:
            smtp.login(str(user), str(config(ctx.settings, "RISKLOOP_SMTP_PASSWORD", "")))
        smtp.send_message(message)
    log.info(
        "notification mail (outbox %s) sent to user %s", ctx.outbox_id, ctx.args.get("username")
    )
