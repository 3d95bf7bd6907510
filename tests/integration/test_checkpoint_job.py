"""The hourly ``audit_checkpoint`` job signs the heads that moved, through the scheduler."""

from __future__ import annotations

from datetime import datetime, timedelta

from sqlalchemy import select

from workflow.audit.checkpoints import AuditCheckpoint, AuditCheckpointHead
from workflow.audit.verification import verify_all
from workflow.background import runner as tasks
from workflow.background.scheduler import tick
from workflow.platform import clock
from workflow.records import trail as audit
from workflow.records.identity import Actor

KEY = "job-audit-key"


def run_scheduler_at(rt, when: datetime) -> None:
    clock.freeze(when)
    tick(rt.session_factory, rt.catalog.registry, rt.settings)
    tasks.drain(rt.session_factory, rt.catalog.registry)


def test_the_scheduled_job_writes_a_chained_checkpoint_every_hour(engine_rt, session):
    engine_rt.settings["RISKLOOP_AUDIT_KEY"] = KEY
    assert "audit_checkpoint" in engine_rt.catalog.registry.jobs
    start = datetime(2026, 5, 1, 2, 0)
    run_scheduler_at(engine_rt, start)  # arms the jobs
    audit.record_event(session, "client:9", "client.created", Actor("sales1", frozenset({"sales"})))
    session.commit()
    run_scheduler_at(engine_rt, start + timedelta(minutes=6))  # 02:05 has passed
    audit.record_event(session, "client:9", "client.updated", Actor("sales1", frozenset({"sales"})))
    audit.record_event(
        session, "client:10", "client.created", Actor("sales1", frozenset({"sales"}))
    )
    session.commit()
    run_scheduler_at(engine_rt, start + timedelta(hours=1, minutes=6))

    session.expire_all()
    signed = session.execute(select(AuditCheckpoint).order_by(AuditCheckpoint.seq)).scalars().all()
    assert [(c.seq, c.streams, c.created_by) for c in signed] == [
        (1, 1, "system:audit-checkpoint"),
        (2, 2, "system:audit-checkpoint"),
    ]
    assert signed[1].prev_hmac == signed[0].hmac
    heads = session.execute(
        select(
            AuditCheckpointHead.checkpoint_seq, AuditCheckpointHead.stream, AuditCheckpointHead.seq
        ).order_by(AuditCheckpointHead.checkpoint_seq, AuditCheckpointHead.stream)
    ).all()
    assert [tuple(h) for h in heads] == [
        (1, "client:9", 1),
        (2, "client:10", 1),
        (2, "client:9", 2),
    ]
    report = verify_all(session, key=KEY)
    assert report.ok and report.checkpoints == 2
