"""Periodic re-review of active clients and contract expiry reminders.

Both are durable job timers with unique keys, so nothing is armed twice:

* ``review:<client_id>:<YYYY-MM>`` — the client's next due-diligence review, every
  ``RISKLOOP_REVIEW_MONTHS`` months (default 3), or ``RISKLOOP_REVIEW_MONTHS_HIGH_RISK``
  (default 1) for a high-risk client. When due it opens a ``due_diligence`` case
  assigned to the risk team and arms the next period.
* ``contract:<client_id>:<number>:<end>`` — one reminder ``RISKLOOP_CONTRACT_REMINDER_DAYS``
  (default 30) days before a contract ends, sent through the notification outbox.

Both kinds are timers of the job ``due_diligence_review`` carrying ``kind`` and
``client_id``; the daily job ``due_diligence_scan`` re-arms whatever is missing.
"""

from __future__ import annotations

import calendar
import logging
from datetime import date, datetime, timedelta
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow import texts
from workflow.engine import runtime
from workflow.engine.builtins.tasks import users_with_roles
from workflow.engine.registry import Registry
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.records.models import Timer, WorkflowInstance
from workflow.records.outbox import enqueue
from workflow.records.timers import schedule_job
from workflow.risk.clients.model import Client
from workflow.risk.due_diligence.review import open_case_for, open_review

registry = Registry()

log = logging.getLogger(__name__)

JOB = "due_diligence_review"
# The scheduler arms a cron run of every job with no pending timer. This job's timers are
# per client, so its own (yearly) cron run has nothing to do; the scan is a job of its own
# so that pending client timers never keep it from being armed.
IDLE_CRON = "0 3 1 1 *"
SCAN_JOB = "due_diligence_scan"
SCAN_CRON = "30 2 * * *"  # 02:30 every day in RISKLOOP_TIMEZONE
REVIEWED_STATUSES = ("active", "suspended")
RISK_TEAM = ["risk_officer"]
# A contract about to end concerns legal too (renewal, termination terms).
CONTRACT_TEAM = [*RISK_TEAM, "legal"]


def add_months(at: datetime, months: int) -> datetime:
    """``at`` plus calendar months, the day clamped to the month's length (31 Jan + 1 → 28 Feb)."""
    month0 = at.month - 1 + months
    year, month = at.year + month0 // 12, month0 % 12 + 1
    return at.replace(year=year, month=month, day=min(at.day, calendar.monthrange(year, month)[1]))


def review_months(session: Session, client: Client) -> int:
    settings = runtime.of(session).settings
    if client.risk_level == "high":
        return int(settings.get("RISKLOOP_REVIEW_MONTHS_HIGH_RISK", 1))
    return int(settings.get("RISKLOOP_REVIEW_MONTHS", 3))


def review_key(client_id: int, due_at: datetime) -> str:
    return f"review:{client_id}:{due_at:%Y-%m}"


def pending_review(session: Session, client_id: int) -> Timer | None:
    return session.execute(
        select(Timer)
        .where(
            Timer.kind == "job",
            Timer.job == JOB,
            Timer.status == "pending",
            Timer.key.like(f"review:{client_id}:%"),
        )
        .order_by(Timer.due_at)
        .limit(1)
    ).scalar_one_or_none()


def schedule_periodic_review(
    session: Session, client: Client, *, after: datetime | None = None
) -> Timer | None:
    """Arm the client's next periodic review (quarterly, monthly when high risk) and its
    contract reminders; call it when a client is approved. Idempotent: an earlier or
    same-period pending review is kept; a later one (the client became high risk) is
    replaced. Returns the pending review timer."""
    due = add_months(after or clock.now(), review_months(session, client))
    schedule_contract_reminders(session, client)
    pending = pending_review(session, client.id)
    if pending is not None:
        if pending.due_at <= due or pending.key == review_key(client.id, due):
            return pending
        pending.status = "cancelled"
    key = review_key(client.id, due)
    if not schedule_job(
        session, JOB, due, key=key, args={"kind": "review", "client_id": client.id}
    ):
        log.info("review %s was already armed for this period", key)
    return pending_review(session, client.id)


def _end_date(value: Any) -> date | None:
    if isinstance(value, datetime):
        return value.date()
    if isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value)[:10])
    except ValueError:
        return None


def schedule_contract_reminders(session: Session, client: Client) -> int:
    """Arm one reminder per contract not yet ended; returns how many were newly armed."""
    days = int(runtime.of(session).setting("RISKLOOP_CONTRACT_REMINDER_DAYS", 30))
    now = clock.now()
    armed = 0
    for contract in client.contracts or []:
        end = _end_date((contract or {}).get("end"))
        number = str((contract or {}).get("number") or "")
        if end is None or not number or end < now.date():
            continue
        remind_at = max(datetime.combine(end - timedelta(days=days), datetime.min.time()), now)
        key = f"contract:{client.id}:{number}:{end.isoformat()}"[:160]
        args = {
            "kind": "contract",
            "client_id": client.id,
            "number": number,
            "end": end.isoformat(),
        }
        armed += schedule_job(session, JOB, remind_at, key=key, args=args)
    return armed


@registry.job(JOB, IDLE_CRON)
def run(session: Session, now: datetime, args: dict[str, Any] | None = None) -> None:
    """A client's periodic review or a contract reminder (the bare cron run does nothing)."""
    args = args or {}
    kind = args.get("kind")
    if kind == "review":
        open_due_review(session, int(args["client_id"]), now, args.get("timer_id"))
    elif kind == "contract":
        remind_contract(session, args, now)


@registry.job(SCAN_JOB, SCAN_CRON)
def scan(session: Session, now: datetime, args: dict[str, Any] | None = None) -> None:
    """The daily scan: re-arm missing review timers and contract reminders."""
    daily_scan(session, now)


def open_due_review(
    session: Session, client_id: int, now: datetime, timer_id: int | None = None
) -> WorkflowInstance | None:
    """Open the client's periodic review (unless one is already open) and arm the next."""
    client = session.get(Client, client_id)
    if client is None or client.status not in REVIEWED_STATUSES:
        log.info("periodic review of client %s skipped: not an active client", client_id)
        return None
    timer = session.get(Timer, timer_id) if timer_id else None
    period = timer.due_at if timer is not None else now
    instance = open_case_for(session, client_id)
    if instance is None:
        team = users_with_roles(session, RISK_TEAM)
        instance = open_review(
            session,
            client_id,
            Actor.system("periodic_review"),
            reason="periodic",
            assignees=team,
            comment=texts.say("comment.periodic_review_due", date=f"{period:%Y-%m-%d}"),
            extra={"period": f"{period:%Y-%m}"},
        )
        enqueue(
            session,
            "notify",
            {
                "event": "due_diligence_due",
                "instance_id": instance.id,
                "roles": RISK_TEAM,
                **texts.notification("review.due", client=client.name, case=instance.id),
            },
            instance_id=instance.id,
        )
    else:
        log.info("periodic review of client %s: case %s is still open", client_id, instance.id)
    schedule_periodic_review(session, client, after=period)
    return instance


def remind_contract(session: Session, args: dict[str, Any], now: datetime) -> bool:
    """Send the contract's expiry reminder if the contract still ends on that date."""
    client = session.get(Client, int(args["client_id"]))
    if client is None:
        return False
    current = {str(c.get("number")): _end_date(c.get("end")) for c in client.contracts or []}
    if current.get(str(args["number"])) != _end_date(args["end"]):
        log.info("contract reminder for client %s skipped: the contract changed", client.id)
        return False
    enqueue(
        session,
        "notify",
        {
            "event": "contract_expiring",
            "users": [client.owner],
            "roles": CONTRACT_TEAM,
            "client_id": client.id,
            "contract": args["number"],
            **texts.notification(
                "contract.expiring",
                number=str(args["number"]),
                client=client.name,
                end=str(args["end"]),
            ),
        },
    )
    return True


def daily_scan(session: Session, now: datetime, batch: int = 500) -> int:
    """Re-arm missing review timers and contract reminders of active clients; returns how
    many clients got a new review timer."""
    repaired = 0
    last_id = 0
    while True:
        clients = list(
            session.execute(
                select(Client)
                .where(Client.status.in_(REVIEWED_STATUSES), Client.id > last_id)
                .order_by(Client.id)
                .limit(batch)
            ).scalars()
        )
        if not clients:
            return repaired
        for client in clients:
            last_id = client.id
            schedule_contract_reminders(session, client)
            if pending_review(session, client.id) is not None:
                continue
            if open_case_for(session, client.id) is not None:
                continue  # the running review arms the next one when its timer had fired
            schedule_periodic_review(session, client, after=_last_review(session, client.id, now))
            repaired += 1


def _last_review(session: Session, client_id: int, now: datetime) -> datetime:
    """When the client was last reviewed (or last due), so a repaired timer keeps the rhythm."""
    last_due = session.execute(
        select(func.max(Timer.due_at)).where(
            Timer.job == JOB, Timer.status == "fired", Timer.key.like(f"review:{client_id}:%")
        )
    ).scalar_one_or_none()
    last_case = session.execute(
        select(func.max(WorkflowInstance.created_at)).where(
            WorkflowInstance.definition == "due_diligence",
            WorkflowInstance.subject_type == "client",
            WorkflowInstance.subject_id == client_id,
        )
    ).scalar_one_or_none()
    candidates = [d for d in (last_due, last_case) if d is not None]
    return max(candidates) if candidates else now
