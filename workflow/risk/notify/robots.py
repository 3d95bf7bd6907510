"""Group robots as push channels of ``notify``: WeCom (企业微信), DingTalk (钉钉, signed)
and Feishu (飞书, signed), configured per routing rule of ``alert_remediation``.

A channel is ``{type, url, secret?, language?, events?}`` in ``settings.routing.channels``
(every alert) or in a rule's ``channels`` (the alerts the rule matches). ``url`` and
``secret`` may name environment variables or settings as ``${NAME}``, so no key needs to
be committed; :func:`check_channels` refuses a bad channel at start-up, naming the file,
the key and the fix. Each delivery is its own outbox message (``send_robot``) holding the
channel's key, never its URL or secret: a robot that is down or rate-limits is retried with
backoff; one that refuses the message for good (a bad key or signature) opens an incident.
The text is worded in the channel's language (``zh-CN`` unless ``language: en``).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import logging
import re
import urllib.error
import urllib.parse
import urllib.request
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import func, or_, select
from sqlalchemy.orm import Session

from workflow import texts
from workflow.engine import runtime
from workflow.engine.catalog import Catalog
from workflow.engine.context import TaskContext
from workflow.engine.registry import Registry
from workflow.errors import DefinitionError, DeliveryRefused, Message, TaskFailed, shown
from workflow.platform import clock
from workflow.records.models import WorkflowInstance
from workflow.records.outbox import enqueue
from workflow.risk.alerts.intake import DEFINITION, config, definition_settings
from workflow.risk.alerts.model import Alert
from workflow.risk.alerts.routing import (
    all_channels,
    channel_at,
    channels_for,
    facts_of,
    matches,
)
from workflow.risk.clients.model import Client
from workflow.risk.notify.digest import (
    FIRST_WINDOW,
    AlertDigest,
    digest_cron,
    local_day,
    record_digest,
)

registry = Registry()

log = logging.getLogger(__name__)

ROBOTS = ("wecom", "dingtalk", "feishu")
SIGNED = frozenset({"dingtalk", "feishu"})
LANGUAGES = ("zh-CN", "en")
# The notifications of the alert loop a group hears about (a channel may list fewer).
EVENTS = ("alert_raised", "alert_breached", "alert_rectified", "alert_reopened")
# Opt-in (``events: [..., alert_digest]``): the group's own nightly digest of its alerts.
DIGEST = "alert_digest"
CHANNEL_KEYS = frozenset({"type", "url", "secret", "language", "events"})
# Error codes a robot answers (HTTP 200) when it is sent too much: retried with backoff.
RATE_LIMITED = {"wecom": {45009}, "dingtalk": {130101, 130102}, "feishu": {11232}}
REFERENCE = re.compile(r"\$\{([A-Za-z_][A-Za-z0-9_]*)\}")
# WeCom takes at most 4096 bytes of markdown; DingTalk and Feishu 20 000 bytes of body.
MAX_TEXT_BYTES = 4000


def resolve(value: str, settings: Mapping[str, Any]) -> tuple[str, list[str]]:
    """``value`` with every ``${NAME}`` replaced from the settings or the environment;
    returns it and the names that are not set."""
    missing: list[str] = []

    def one(match: re.Match[str]) -> str:
        found = config(settings, match.group(1))
        if found in (None, ""):
            missing.append(match.group(1))
            return ""
        return str(found)

    return REFERENCE.sub(one, value), missing


def check_channels(catalog: Catalog, settings: Mapping[str, Any]) -> int:
    """Check every push channel of the loaded ``alert_remediation``; returns how many.

    Raises:
        DefinitionError: naming the file, the channel's key and the fix.
    """
    if DEFINITION not in catalog:
        return 0
    definition = catalog.get(DEFINITION)
    routing = definition.settings.get("routing") or {}
    for where, value in [("settings.routing.channels", routing.get("channels"))] + [
        (f"settings.routing.rules[{r}].channels", rule.get("channels"))
        for r, rule in enumerate(routing.get("rules") or [])
        if isinstance(rule, dict)
    ]:
        if value is not None and not isinstance(value, list):
            raise DefinitionError(definition.file, where, "must be a list of channels")
    channels = all_channels(routing)
    for key, channel, _when in channels:
        check_channel(definition.file, f"settings.{key}", channel, settings)
    return len(channels)


def check_channel(file: str, key: str, channel: Any, settings: Mapping[str, Any]) -> None:
    """Raises:
    DefinitionError: the channel at ``key`` is invalid (its type, url, secret, events…);
        every problem of the channel is in its ``problems`` (the url and secret are
        checked only for a known robot type, as their example depends on it)."""

    problems: list[DefinitionError] = []

    def fail(code: str, message: str, **params: Any) -> None:
        problems.append(DefinitionError(file, key, Message(f"channel.{code}", message, **params)))

    if not isinstance(channel, dict):
        raise DefinitionError(
            file,
            key,
            Message(
                "channel.mapping",
                "must be a mapping like {type: wecom, url: '${RISKLOOP_WECOM_URL}'}",
            ),
        )
    unknown = sorted(set(channel) - CHANNEL_KEYS)
    if unknown:
        fail(
            "unknown_keys",
            f"unknown key(s) {', '.join(unknown)}; use {', '.join(sorted(CHANNEL_KEYS))}",
            keys=unknown,
            allowed=sorted(CHANNEL_KEYS),
        )
    kind = channel.get("type")
    if kind not in ROBOTS:
        fail(
            "type",
            f"type {kind!r} is unknown; use one of {', '.join(ROBOTS)}",
            value=shown(kind),
            allowed=list(ROBOTS),
        )
    else:
        _check_address(channel, str(kind), settings, fail)
    if channel.get("language", "zh-CN") not in LANGUAGES:
        fail(
            "language",
            f"language must be one of {', '.join(LANGUAGES)}",
            value=shown(channel.get("language")),
            allowed=list(LANGUAGES),
        )
    events = channel.get("events", list(EVENTS))
    if not isinstance(events, list) or not set(events) <= {*EVENTS, DIGEST}:
        fail(
            "events",
            f"events must be a list of {', '.join([*EVENTS, DIGEST])}",
            allowed=[*EVENTS, DIGEST],
        )
    if problems:
        raise DefinitionError.collected(problems)


def _check_address(
    channel: dict[str, Any],
    kind: str,
    settings: Mapping[str, Any],
    fail: Callable[..., None],
) -> None:
    """The url and secret of a channel of a known robot type: text, set, a web address."""
    broken: set[str] = set()
    for name in ("url", "secret"):
        value = channel.get(name)
        if value is None:
            continue
        if not isinstance(value, str):
            fail(
                "text",
                f"{name} must be text, e.g. '${{RISKLOOP_{kind.upper()}_{name.upper()}}}'",
                name=name,
                example=f"${{RISKLOOP_{kind.upper()}_{name.upper()}}}",
            )
            broken.add(name)
            continue
        _, missing = resolve(value, settings)
        if missing:
            fail(
                "unset",
                f"{name} names {', '.join(missing)}, which is not set; set the environment "
                "variable (or setting) or remove the channel",
                name=name,
                variables=list(missing),
            )
            broken.add(name)
    url, _ = resolve(str(channel.get("url") or ""), settings)
    if "url" not in broken and not url.startswith(("https://", "http://")):
        fail("url", "url must be the robot's webhook address (https://…), e.g. '${RISKLOOP_…_URL}'")
    if kind not in SIGNED and channel.get("secret") is not None:
        fail("unsigned", "WeCom robots are not signed: remove secret (the key is part of the url)")


@registry.channel
def robot_channel(ctx: TaskContext, recipients: list[str], title: str) -> None:
    """Queue one ``send_robot`` per channel of the alert's routing that takes this event."""
    event = ctx.args.get("event")
    instance_id = ctx.args.get("instance_id")
    if event not in EVENTS or instance_id is None:
        return
    alert = ctx.session.execute(
        select(Alert).where(Alert.instance_id == instance_id)
    ).scalar_one_or_none()
    client = ctx.session.get(Client, alert.client_id) if alert is not None else None
    if alert is None or client is None:
        return
    routing = definition_settings(ctx.session).get("routing") or {}
    for key, channel in channels_for(routing, facts_of(client, alert.level, alert.category)):
        if event in channel.get("events", EVENTS):
            _push(ctx.session, key, {**ctx.args, "title": title}, instance_id)


def _push(session: Session, key: str, args: dict[str, Any], instance_id: int | None) -> None:
    """Queue one delivery to the channel at ``key`` of a coded notification."""
    enqueue(
        session,
        "send_robot",
        {
            "channel": key,
            "event": args.get("event"),
            "title": args.get("title", ""),
            "body": args.get("body", ""),
            "code": args.get("code"),
            "params": args.get("params"),
            "instance_id": instance_id,
        },
        instance_id=instance_id,
    )


@registry.job("robot_digest", digest_cron)
def robot_digest(session: Session, now: datetime, args: dict[str, Any] | None = None) -> None:
    """At the digest's hour, each channel with ``alert_digest`` among its events gets the
    alerts of its rule new or breached since its last digest; returns nothing."""
    send_group_digests(session, now)


def send_group_digests(session: Session, now: datetime) -> list[str]:
    """Queue today's digest of every channel that takes one (once a day each: its row in
    ``alert_digests`` is keyed ``robot:<channel key>``); returns the channels' keys."""
    if DEFINITION not in runtime.of(session).catalog:
        return []
    routing = definition_settings(session).get("routing") or {}
    wanted = [
        (key, when)
        for key, channel, when in all_channels(routing)
        if isinstance(channel, dict) and DIGEST in (channel.get("events") or [])
    ]
    if not wanted:
        return []
    day = local_day(now, str(runtime.of(session).setting("RISKLOOP_TIMEZONE", "Asia/Shanghai")))
    sent = []
    for key, when in wanted:
        name = f"robot:{key}"
        since = (
            session.execute(
                select(func.max(AlertDigest.covers_to)).where(AlertDigest.username == name)
            ).scalar_one_or_none()
            or now - FIRST_WINDOW
        )
        rows = session.execute(
            select(Alert, WorkflowInstance.state, Client)
            .join(WorkflowInstance, WorkflowInstance.id == Alert.instance_id)
            .join(Client, Client.id == Alert.client_id)
            .where(or_(Alert.created_at > since, Alert.last_breached_at > since))
            .order_by(Alert.id)
        ).all()
        mine = [
            (a, s, c.name)
            for a, s, c in rows
            if when is None or matches(when, facts_of(c, a.level, a.category))
        ]
        coded = record_digest(session, name, day, since, now, mine)
        if coded is None:
            continue
        _push(session, key, {"event": DIGEST, **coded}, None)
        sent.append(key)
    return sent


@registry.task("send_robot")
def send_robot(ctx: TaskContext) -> None:
    """Post one notification to a group robot.

    Raises:
        TaskFailed: the robot is unreachable, answers 5xx/429 or rate-limits (retried).
        DeliveryRefused: it refuses the message for good (bad key, signature, format).
    """
    key = ctx.args["channel"]
    channel = channel_at(definition_settings(ctx.session).get("routing") or {}, key)
    if not isinstance(channel, dict) or channel.get("type") not in ROBOTS:
        log.warning(
            "robot channel %s is no longer configured; outbox %s dropped", key, ctx.outbox_id
        )
        return
    kind = str(channel["type"])
    settings = ctx.runtime.settings
    url, _ = resolve(str(channel.get("url") or ""), settings)
    secret, _ = resolve(str(channel.get("secret") or ""), settings)
    title, body = texts.worded(ctx.args, str(channel.get("language", "zh-CN")), ctx.runtime.word)
    timestamp = clock.now().replace(tzinfo=UTC).timestamp()
    message = robot_message(kind, title, body, secret, timestamp)
    if kind == "dingtalk" and secret:
        url = signed_dingtalk_url(url, secret, timestamp)
    request = urllib.request.Request(
        url,
        data=json.dumps(message, ensure_ascii=False).encode("utf-8"),
        headers={"Content-Type": "application/json; charset=utf-8", "User-Agent": "riskloop"},
        method="POST",
    )
    try:
        with urllib.request.urlopen(request, timeout=10) as response:  # noqa: S310 (configured URL)
            answer = response.read(65536)
    except urllib.error.HTTPError as exc:
        if exc.code == 429 or exc.code >= 500:
            raise TaskFailed(f"the {kind} robot {key} answered {exc.code}; it is retried") from exc
        raise DeliveryRefused(f"the {kind} robot {key} answered {exc.code}") from exc
    check_answer(kind, key, answer)
    log.info("%s robot %s (outbox %s) delivered", kind, key, ctx.outbox_id)


def _clip(text: str) -> str:
    data = text.encode("utf-8")
    return text if len(data) <= MAX_TEXT_BYTES else data[:MAX_TEXT_BYTES].decode("utf-8", "ignore")


def robot_message(
    kind: str, title: str, body: str, secret: str, timestamp: float
) -> dict[str, Any]:
    """The JSON each robot takes: WeCom and DingTalk markdown, Feishu text (signed in the
    body when it has a secret)."""
    if kind == "wecom":
        return {"msgtype": "markdown", "markdown": {"content": _clip(f"**{title}**\n{body}")}}
    if kind == "dingtalk":
        return {
            "msgtype": "markdown",
            "markdown": {"title": title[:100], "text": _clip(f"#### {title}\n\n{body}")},
        }
    message: dict[str, Any] = {"msg_type": "text", "content": {"text": _clip(f"{title}\n{body}")}}
    if secret:
        seconds = str(int(timestamp))
        message = {"timestamp": seconds, "sign": feishu_sign(secret, seconds), **message}
    return message


def dingtalk_sign(secret: str, milliseconds: str) -> str:
    """base64(HMAC-SHA256(key=secret, msg=timestamp + "\\n" + secret)), not yet URL-encoded."""
    mac = hmac.new(
        secret.encode("utf-8"), f"{milliseconds}\n{secret}".encode(), hashlib.sha256
    ).digest()
    return base64.b64encode(mac).decode("ascii")


def signed_dingtalk_url(url: str, secret: str, timestamp: float) -> str:
    milliseconds = str(int(timestamp * 1000))
    query = urllib.parse.urlencode(
        {"timestamp": milliseconds, "sign": dingtalk_sign(secret, milliseconds)}
    )
    return f"{url}{'&' if '?' in url else '?'}{query}"


def feishu_sign(secret: str, seconds: str) -> str:
    """base64(HMAC-SHA256(key=timestamp + "\\n" + secret, msg=""))."""
    mac = hmac.new(f"{seconds}\n{secret}".encode(), b"", hashlib.sha256).digest()
    return base64.b64encode(mac).decode("ascii")


def check_answer(kind: str, key: str, answer: bytes) -> None:
    """Each robot answers 200 with an error code on failure (``errcode``; Feishu ``code``).

    Raises:
        TaskFailed: rate-limited, or an answer that is not the robot's JSON.
        DeliveryRefused: any other error code.
    """
    try:
        parsed = json.loads(answer or b"{}")
    except ValueError as exc:
        raise TaskFailed(f"the {kind} robot {key} answered no JSON; it is retried") from exc
    if not isinstance(parsed, dict):
        raise TaskFailed(f"the {kind} robot {key} answered no JSON object; it is retried")
    code = (
        parsed.get("code", parsed.get("StatusCode")) if kind == "feishu" else parsed.get("errcode")
    )
    if code in (0, None):
        return
    detail = str(parsed.get("msg") or parsed.get("errmsg") or "")[:200]
    if code in RATE_LIMITED[kind]:
        raise TaskFailed(f"the {kind} robot {key} is rate-limited ({code} {detail}); it is retried")
    raise DeliveryRefused(f"the {kind} robot {key} refused the message: {code} {detail}")
