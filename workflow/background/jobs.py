"""Running cron-like jobs: the ``run_job`` task that a due job timer becomes, and the
optional ``backup`` job.

A job is ``fn(session, now, args)`` registered with ``Registry.job(name, cron)``; the
scheduler arms its first run, and each run arms the next one in its own transaction.
"""

from __future__ import annotations

import logging
from datetime import datetime
from pathlib import Path
from typing import Any

from sqlalchemy.orm import Session

from workflow.background.scheduler import job_key, next_run, resolve_cron
from workflow.engine import runtime
from workflow.engine.context import TaskContext
from workflow.engine.registry import Registry
from workflow.platform import backup
from workflow.records.models import Timer
from workflow.records.timers import schedule_job

log = logging.getLogger(__name__)

registry = Registry()


@registry.task("run_job")
def run_job(ctx: TaskContext) -> None:
    """Run a cron-like job once and arm its next run (same transaction)."""
    engine = ctx.runtime
    name = ctx.args["job"]
    fn, cron = engine.registry.jobs[name]
    fn(ctx.session, ctx.now, ctx.args)
    settings = engine.settings
    timer = ctx.session.get(Timer, ctx.args.get("timer_id"))
    after = timer.due_at if timer is not None else ctx.now
    due = next_run(
        resolve_cron(cron, settings, ctx.session),
        max(after, ctx.now),
        str(settings.get("RISKLOOP_TIMEZONE", "Asia/Shanghai")),
    )
    schedule_job(ctx.session, name, due, key=job_key(name, due))


def scheduled_backup(session: Session, now: datetime, args: dict[str, Any]) -> None:
    """The ``backup`` job: a backup into RISKLOOP_BACKUP_DIR, then keep the newest few."""
    settings = runtime.of(session).settings
    folder = Path(str(settings.get("RISKLOOP_BACKUP_DIR")))
    url = session.get_bind().engine.url
    written = backup.backup(url.render_as_string(hide_password=False), folder, at=now)
    deleted = backup.prune(folder, int(settings.get("RISKLOOP_BACKUP_KEEP", 14)))
    log.info("scheduled backup %s; %d old backups deleted", written.name, len(deleted))


def enable_backups(registry: Registry) -> None:
    """Register the ``backup`` job (cron from ``RISKLOOP_BACKUP_CRON``); done at start-up
    only when ``RISKLOOP_BACKUP_DIR`` is set, in the scheduler and worker processes alike."""
    if "backup" not in registry.jobs:
        registry.job("backup", "RISKLOOP_BACKUP_CRON")(scheduled_backup)
