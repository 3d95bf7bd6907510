"""The scheduler: claims due timers, arms cron-like jobs and relays the outbox.

Several schedulers may run at once (``FOR UPDATE SKIP LOCKED`` on PostgreSQL,
unique job keys everywhere). Cron-like jobs are self-re-arming timer rows keyed
by their due time, so each run happens once even across restarts. A scheduler's
first pass signs an audit checkpoint when none exists yet.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Mapping
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

from apscheduler.triggers.cron import CronTrigger
from sqlalchemy import select
from sqlalchemy.orm import Session

from workflow.audit import checkpoints
from workflow.engine.registry import CronSpec, Registry
from workflow.errors import ConfigurationError
from workflow.platform import clock
from workflow.records import outbox, timers
from workflow.records.identity import Actor
from workflow.records.models import Timer

log = logging.getLogger(__name__)


def next_run(cron: str, after: datetime, timezone: str) -> datetime:
    """Next time (naive UTC) a crontab expression fires after ``after`` (naive UTC)."""
    tz = ZoneInfo(timezone)
    trigger = CronTrigger.from_crontab(cron, timezone=tz)
    aware = after.replace(tzinfo=UTC)
    nxt = trigger.get_next_fire_time(None, aware + timedelta(microseconds=1))
    return nxt.astimezone(UTC).replace(tzinfo=None)


def job_key(job: str, due_at: datetime) -> str:
    return f"job:{job}:{due_at.strftime('%Y-%m-%dT%H:%M')}"


def resolve_cron(
    spec: CronSpec, settings: Mapping[str, object], session: Session | None = None
) -> str:
    """The crontab expression of a job's ``spec`` (see :meth:`Registry.job`); a function
    is given the settings and ``session``, to read governed configuration."""
    if callable(spec):
        return spec(settings, session)
    return str(settings.get(spec, spec))


def ensure_jobs(session: Session, registry: Registry, settings: dict[str, object]) -> int:
    """Arm the next run of every registered job that has no pending run, and move a
    pending run whose job's crontab now says another time (e.g. a newly activated
    digest hour): the old timer is cancelled, the new one armed."""
    armed = 0
    tz = str(settings.get("RISKLOOP_TIMEZONE", "Asia/Shanghai"))
    now = clock.now()
    for name, (_fn, cron) in registry.jobs.items():
        due = next_run(resolve_cron(cron, settings, session), now, tz)
        pending = (
            session.execute(
                # Only the job's own cron runs count (keys from job_key); other timers of
                # the same job (e.g. one per client) must not stop its next run being armed.
                select(Timer).where(
                    Timer.kind == "job",
                    Timer.job == name,
                    Timer.status == "pending",
                    Timer.key.like(f"job:{name}:%"),
                )
            )
            .scalars()
            .all()
        )
        # A future run armed for the crontab in force is exactly its next run after now;
        # one at another time was armed for a crontab since changed.
        kept = 0
        for timer in pending:
            if timer.due_at > now and timer.due_at != due:
                timer.status = "cancelled"
                log.info("job %s moved from %s to %s (UTC)", name, timer.due_at, due)
            else:
                kept += 1
        if kept:
            continue
        if timers.schedule_job(session, name, due, key=job_key(name, due)):
            armed += 1
    return armed


def tick(
    session_factory: Callable[[], Session],
    registry: Registry,
    settings: dict[str, object],
    *,
    now: datetime | None = None,
) -> int:
    """One scheduler pass: claim due timers into the outbox; returns how many fired."""
    session = session_factory()
    try:
        claimed = timers.claim_due(session, now=now)
        ensure_jobs(session, registry, settings)
        session.commit()
        return len(claimed)
    except Exception:
        session.rollback()
        raise
    finally:
        session.close()


class Scheduler:
    """A loop that ticks every ``interval`` seconds and relays the outbox."""

    def __init__(
        self,
        session_factory: Callable[[], Session],
        registry: Registry,
        settings: dict[str, object],
        *,
        interval: float = 1.0,
        redeliver_after: timedelta = timedelta(seconds=30),
    ) -> None:
        self.session_factory = session_factory
        self.registry = registry
        self.settings = settings
        self.interval = interval
        self.redeliver_after = redeliver_after
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._started = False

    def run_once(self) -> tuple[int, int]:
        if not self._started:
            self._first_checkpoint()
            self._started = True
        fired = tick(self.session_factory, self.registry, self.settings)
        relayed = outbox.relay_once(self.session_factory, redeliver_after=self.redeliver_after)
        return fired, relayed

    def _first_checkpoint(self) -> None:
        """Sign (and anchor) the trail at start-up when no checkpoint exists: otherwise,
        until the first hourly one, a record rewritten with its head would go unnoticed."""
        try:
            checkpoint = checkpoints.ensure_checkpoint(
                self.session_factory, Actor.system("audit-checkpoint")
            )
        except ConfigurationError as exc:
            log.warning("no start-up audit checkpoint: %s", exc.detail)
            return
        if checkpoint is not None:
            log.info(
                "start-up audit checkpoint %d signed %d stream heads",
                checkpoint.seq,
                checkpoint.streams,
            )

    def run_forever(self) -> None:
        log.info("scheduler started (interval %.1fs)", self.interval)
        while not self._stop.is_set():
            try:
                self.run_once()
            except Exception:  # the database may be restarting; try again next tick
                log.exception("scheduler tick failed; retrying")
            self._stop.wait(self.interval)
        log.info("scheduler stopped")

    def start(self) -> threading.Thread:
        self._thread = threading.Thread(
            target=self.run_forever, name="riskloop-scheduler", daemon=True
        )
        self._thread.start()
        return self._thread

    def stop(self) -> None:
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout=10)
