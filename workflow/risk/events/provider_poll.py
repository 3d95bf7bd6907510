"""Risk events from the HTTP data provider: each active client polled on a schedule.

With the ``http`` screening provider configured (``RISKLOOP_SCREENING_PROVIDERS``), an
hourly scan arms one poll timer per active or suspended client that has none. A poll asks
the provider about the client (``GET {RISKLOOP_PROVIDER_URL}/companies/{credit_code}``)
and stores the ``events`` it reports through the same intake as the API (source
``provider:http``, deduplicated by the provider's ``external_id``), then arms the next
poll after ``RISKLOOP_PROVIDER_POLL_INTERVAL`` (default 6 h). A provider that cannot be
reached is asked again after 5 minutes, then 10, 20 … (doubling, at most the interval):
the back-off is on the timer, so no worker waits and a restart loses nothing.
"""

from __future__ import annotations

import hashlib
import json
import logging
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.engine import runtime
from workflow.engine.registry import Registry
from workflow.errors import ServiceUnavailable, ValidationFailed
from workflow.platform.durations import parse_duration
from workflow.records.identity import Actor
from workflow.records.models import Timer
from workflow.records.timers import schedule_job
from workflow.risk.clients.model import Client
from workflow.risk.events.intake import clean_event, record_event
from workflow.risk.screening.providers import HttpProvider, configured_providers

registry = Registry()

log = logging.getLogger(__name__)

JOB = "provider_events_poll"
SCAN_JOB = "provider_events_scan"
IDLE_CRON = "0 4 1 1 *"  # the bare cron run does nothing: polls are per-client timers
SCAN_CRON = "13 * * * *"
INTERVAL_SETTING = "RISKLOOP_PROVIDER_POLL_INTERVAL"
DEFAULT_INTERVAL = "6h"
FIRST_RETRY = timedelta(minutes=5)
POLLED_STATUSES = ("active", "suspended")
PROVIDER_ACTOR = Actor.system("provider")


def http_provider(settings: dict[str, Any]) -> HttpProvider | None:
    """The configured HTTP provider, if any."""
    return next((p for p in configured_providers(settings) if isinstance(p, HttpProvider)), None)


def interval(settings: dict[str, Any]) -> timedelta:
    return parse_duration(str(settings.get(INTERVAL_SETTING) or DEFAULT_INTERVAL))


def retry_delay(failures: int, every: timedelta) -> timedelta:
    """The wait after ``failures`` failed polls in a row: 5 min doubling, at most ``every``."""
    return min(FIRST_RETRY * 2 ** max(failures - 1, 0), every)


def arm_poll(session: Session, client_id: int, due: datetime, failures: int = 0) -> bool:
    key = f"provider_poll:{client_id}:{due.strftime('%Y-%m-%dT%H:%M:%S')}"
    return schedule_job(
        session, JOB, due, key=key, args={"client_id": client_id, "failures": failures}
    )


def _external_id(item: dict[str, Any]) -> str:
    """The provider's id of an event, else a digest of the event (the same report twice
    is one event)."""
    given = item.get("external_id")
    if isinstance(given, str) and given.strip():
        return given.strip()[:128]
    return hashlib.sha256(json.dumps(item, sort_keys=True, default=str).encode()).hexdigest()


def poll_client(
    session: Session, client_id: int, now: datetime, *, failures: int = 0
) -> dict[str, int] | None:
    """Ask the provider about one client, store the events it reports and arm the next
    poll; None when there is nothing to poll (no provider, or the client left)."""
    settings = runtime.of(session).settings
    provider = http_provider(settings)
    client = session.get(Client, client_id)
    if provider is None or client is None or client.status not in POLLED_STATUSES:
        return None
    every = interval(settings)
    try:
        result = provider.lookup(session, client)
    except ServiceUnavailable as exc:
        failures += 1
        arm_poll(session, client_id, now + retry_delay(failures, every), failures)
        log.warning("provider poll of client %s failed (%d in a row): %s", client_id, failures, exc)
        return {"stored": 0, "refused": 0, "failures": failures}
    stored = refused = 0
    for item in result.events:
        try:
            fields = clean_event(
                {
                    **{k: v for k, v in item.items() if k not in ("source", "external_id")},
                    "source": f"provider:{provider.name}",
                    "external_id": _external_id(item),
                }
            )
        except ValidationFailed as exc:
            refused += 1
            log.warning("provider event for client %s refused: %s", client_id, exc.detail)
            continue
        with session.begin_nested():
            stored += record_event(session, PROVIDER_ACTOR, client.id, fields).created
    arm_poll(session, client_id, now + every)
    return {"stored": stored, "refused": refused, "failures": 0}


@registry.job(JOB, IDLE_CRON)
def poll(session: Session, now: datetime, args: dict[str, Any] | None = None) -> None:
    """One client's poll (the bare cron run does nothing)."""
    args = args or {}
    if args.get("client_id"):
        poll_client(session, int(args["client_id"]), now, failures=int(args.get("failures", 0)))


@registry.job(SCAN_JOB, SCAN_CRON)
def scan_job(session: Session, now: datetime, args: dict[str, Any] | None = None) -> None:
    """Hourly: arm a first poll for every polled client that has none pending."""
    scan(session, now)


def scan(session: Session, now: datetime) -> int:
    """Arm a first poll for every polled client that has none pending; how many were armed."""
    if http_provider(runtime.of(session).settings) is None:
        return 0
    pending = {
        int((args or {}).get("client_id") or 0)
        for args in session.execute(
            select(Timer.args).where(
                Timer.kind == "job", Timer.job == JOB, Timer.status == "pending"
            )
        ).scalars()
    }
    armed = 0
    for client_id in session.execute(
        select(Client.id).where(Client.status.in_(POLLED_STATUSES)).order_by(Client.id)
    ).scalars():
        if client_id not in pending:
            armed += arm_poll(session, client_id, now)
    if armed:
        log.info("provider polls armed for %d clients", armed)
    return armed
