"""fire() as ARCHITECTURE.md ("Firing a transition") states it, on SQLite and PostgreSQL."""

from __future__ import annotations

import threading
from datetime import timedelta

import pytest
from sqlalchemy import func, select, text

from workflow.audit.verification import verify_all
from workflow.background import runner as tasks
from workflow.background.scheduler import Scheduler
from workflow.engine import firing as engine
from workflow.errors import Forbidden, IdempotencyMismatch, ValidationFailed, VersionConflict
from workflow.platform import clock
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, Incident, OutboxMessage, Timer, WorkflowInstance

SALES = Actor("alice", frozenset({"sales"}))
RISK = Actor("rob", frozenset({"risk_officer"}))
RISK2 = Actor("rita", frozenset({"risk_officer"}))


def submitted(session) -> WorkflowInstance:
    inst = engine.start(session, "test_approval", SALES, subject_id=7)
    session.commit()
    engine.fire(session, inst.id, "submit", SALES)
    session.commit()
    return inst


def test_a_failing_step_leaves_nothing_half_done(session, engine_rt):
    inst = submitted(session)
    before = session.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
    with pytest.raises(ValidationFailed):
        engine.fire(session, inst.id, "approve", RISK, {"amount": -1})
    session.rollback()
    with pytest.raises(Forbidden):
        engine.fire(session, inst.id, "approve", SALES, {"amount": 1})
    session.rollback()
    session.refresh(inst)
    assert (inst.state, inst.version) == ("pending", 2)
    assert session.execute(select(func.count()).select_from(AuditRecord)).scalar_one() == before


def test_entering_a_state_arms_its_timers_and_leaving_cancels_them(session, engine_rt):
    inst = submitted(session)
    timer = session.execute(select(Timer).where(Timer.instance_id == inst.id)).scalar_one()
    assert (timer.state, timer.trigger, timer.status) == ("pending", "escalate", "pending")
    assert inst.sla_due_at is not None
    engine.fire(session, inst.id, "approve", RISK, {"amount": 3})
    session.commit()
    session.refresh(timer)
    assert timer.status == "cancelled"
    assert inst.is_open is False and inst.sla_due_at is None


def test_a_due_timer_fires_once_even_after_a_scheduler_restart(engine_rt, session):
    inst = submitted(session)
    rt = engine_rt
    first = Scheduler(rt.session_factory, rt.catalog.registry, rt.settings)
    assert first.run_once()[0] == 0  # nothing due yet
    clock.freeze(clock.now() + timedelta(hours=49))
    # the first scheduler "crashed"; a new one picks the durable timer up
    second = Scheduler(rt.session_factory, rt.catalog.registry, rt.settings)
    assert second.run_once()[0] >= 1  # the SLA timer, plus any cron-like job due by then
    assert second.run_once()[0] == 0
    session.rollback()  # release SQLite's write lock before the worker runs
    tasks.drain(rt.session_factory, rt.catalog.registry)
    session.expire_all()
    inst = session.get(WorkflowInstance, inst.id)
    assert inst.breached is True and inst.data["breaches"] == 1
    records = (
        session.execute(select(AuditRecord).where(AuditRecord.trigger == "escalate"))
        .scalars()
        .all()
    )
    assert [r.actor for r in records] == ["system:timer"]


def test_a_timer_whose_case_moved_on_is_a_no_op(engine_rt, session):
    inst = submitted(session)
    rt = engine_rt
    timer = session.execute(select(Timer).where(Timer.instance_id == inst.id)).scalar_one()
    # the case leaves the state but the timer row was already claimed (race with the scheduler)
    session.execute(
        text("UPDATE timers SET due_at = :t"), {"t": clock.now() - timedelta(seconds=1)}
    )
    session.commit()
    Scheduler(rt.session_factory, rt.catalog.registry, rt.settings).run_once()
    engine.fire(session, inst.id, "withdraw", SALES)
    session.commit()
    session.rollback()  # release SQLite's write lock before the worker runs
    tasks.drain(rt.session_factory, rt.catalog.registry)
    session.expire_all()
    assert session.get(WorkflowInstance, inst.id).state == "withdrawn"
    assert session.get(Timer, timer.id).status == "fired"
    assert verify_all(session).ok


def test_the_same_idempotency_key_returns_the_first_result(session, engine_rt):
    inst = engine.start(session, "test_approval", SALES)
    session.commit()
    first = engine.fire(session, inst.id, "submit", SALES, idempotency_key="k1")
    session.commit()
    again = engine.fire(session, inst.id, "submit", SALES, idempotency_key="k1")
    session.commit()
    assert again.replayed and again.version == first.version == 2
    with pytest.raises(IdempotencyMismatch):
        engine.fire(session, inst.id, "withdraw", SALES, idempotency_key="k1")
    assert session.execute(select(func.count()).select_from(AuditRecord)).scalar_one() == 2


def test_background_tasks_run_once_and_repeated_failure_opens_an_incident(engine_rt, session):
    rt = engine_rt
    inst = submitted(session)
    session.rollback()  # release SQLite's write lock before the worker runs
    tasks.drain(rt.session_factory, rt.catalog.registry)
    session.expire_all()
    assert session.get(WorkflowInstance, inst.id).data["notes"] == ["noted v2"]
    message_id = session.execute(select(OutboxMessage.id)).scalar_one()
    # a redelivered message has no second effect
    session.rollback()  # release SQLite's write lock before the worker runs
    assert tasks.run_message(rt.session_factory, rt.catalog.registry, message_id) == "skipped"

    failing = engine.start(session, "test_approval", SALES, data={"fail_task": True})
    session.commit()
    engine.fire(session, failing.id, "submit", SALES)
    session.commit()
    session.rollback()  # release SQLite's write lock before the worker runs
    tasks.drain(rt.session_factory, rt.catalog.registry, max_attempts=3)
    session.expire_all()
    incident = session.execute(
        select(Incident).where(Incident.instance_id == failing.id)
    ).scalar_one()
    assert incident.attempts == 3 and "data provider is down" in incident.error
    failed = session.get(WorkflowInstance, failing.id)
    assert (
        failed.state == "pending" and "notes" not in failed.data
    )  # never a silent skip or approval
    kinds = [
        r.kind
        for r in session.execute(
            select(AuditRecord)
            .where(AuditRecord.stream == audit.instance_stream(failing.id))
            .order_by(AuditRecord.seq)
        ).scalars()
    ]
    assert kinds == ["started", "transition", "incident"]
    assert verify_all(session).ok


def test_verification_names_a_tampered_record_and_replay_catches_a_moved_state(engine_rt, session):
    inst = submitted(session)
    engine.fire(session, inst.id, "approve", RISK, {"amount": 9})
    session.commit()
    assert verify_all(session).ok
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET session_replication_role = replica"))
    session.execute(text("UPDATE audit_records SET comment = 'forged' WHERE seq = 2"))
    session.commit()
    report = verify_all(session)
    assert not report.ok and report.first_break.seq == 2 and "altered" in report.first_break.reason


@pytest.fixture
def pg_rt(tmp_path):
    from tests.support.databases import fresh_database
    from tests.support.runtime import engine_runtime

    with fresh_database("postgresql", tmp_path, with_schema=True) as url:
        yield from engine_runtime(url)


def test_two_approvers_at_the_same_version_give_exactly_one_transition(pg_rt):
    rt = pg_rt
    with rt.session_factory() as s:
        inst = submitted(s)
        case, version = inst.id, inst.version
    results: list[str] = []
    barrier = threading.Barrier(2)

    def approve(actor: Actor) -> None:
        with rt.session_factory() as s:
            barrier.wait()
            try:
                engine.fire(s, case, "approve", actor, {"amount": 1}, expected_version=version)
                s.commit()
                results.append("ok")
            except VersionConflict:
                s.rollback()
                results.append("conflict")

    threads = [threading.Thread(target=approve, args=(a,)) for a in (RISK, RISK2)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert sorted(results) == ["conflict", "ok"]
    with rt.session_factory() as s:
        assert s.get(WorkflowInstance, case).version == version + 1
        assert verify_all(s).ok
