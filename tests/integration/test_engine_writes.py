"""How a firing reaches the database (workflow.engine.writes), on SQLite and PostgreSQL."""

from __future__ import annotations

import pytest
from sqlalchemy import select, text
from sqlalchemy.exc import IntegrityError, OperationalError

from tests.support.databases import fresh_database
from tests.support.runtime import engine_runtime
from tests.support.statements import first_words, statements_sent
from workflow.audit.verification import verify_all
from workflow.engine import firing as engine
from workflow.engine import writes
from workflow.platform.transaction import transact
from workflow.records.identity import Actor
from workflow.records.models import IdempotencyRecord, OutboxMessage, Timer, WorkflowInstance

SALES = Actor("alice", frozenset({"sales"}))
RISK = Actor("rob", frozenset({"risk_officer"}))


def _submitted(session) -> int:
    inst = engine.start(session, "test_approval", SALES, subject_id=7)
    session.commit()
    engine.fire(session, inst.id, "submit", SALES)
    session.commit()
    return inst.id


def test_a_keyed_firing_writes_every_row_and_replays(session, engine_rt):
    case = _submitted(session)
    first = transact(
        session,
        lambda: engine.fire(session, case, "approve", RISK, {"amount": 3}, idempotency_key="k-1"),
    )
    again = transact(
        session,
        lambda: engine.fire(session, case, "approve", RISK, {"amount": 3}, idempotency_key="k-1"),
    )
    assert again.replayed and (again.version, again.to_state) == (first.version, first.to_state)
    row = session.get(IdempotencyRecord, ("rob", "k-1"))
    assert row.result["audit_seq"] == first.audit_seq == 3
    timers = session.execute(
        select(Timer.state, Timer.status).where(Timer.instance_id == case)
    ).all()
    assert ("pending", "cancelled") in timers
    assert (
        session.execute(select(OutboxMessage.task).where(OutboxMessage.instance_id == case))
        .scalars()
        .all()
    )  # the approve transition's task
    assert verify_all(session).ok


def test_a_copy_the_session_holds_is_brought_up_to_date(session, engine_rt):
    case = _submitted(session)
    held = session.get(WorkflowInstance, case)
    result = engine.fire(session, case, "approve", RISK, {"amount": 3})
    assert (held.state, held.version, held.audit_seq) == (
        result.to_state,
        result.version,
        result.audit_seq,
    )
    assert result.instance is not None and result.instance.state == result.to_state
    session.commit()
    assert session.get(WorkflowInstance, case) is held


def test_changes_the_caller_made_are_flushed_before_the_lock_reads(session, engine_rt):
    case = _submitted(session)
    held = session.get(WorkflowInstance, case)
    held.data = {**held.data, "note": "kept"}
    engine.fire(session, case, "approve", RISK, {"amount": 3})
    session.commit()
    session.expire_all()
    assert session.get(WorkflowInstance, case).data["note"] == "kept"


@pytest.fixture
def pg_rt(tmp_path):
    with fresh_database("postgresql", tmp_path, with_schema=True) as url:
        yield from engine_runtime(url)


def test_a_key_written_first_by_another_request_is_retried_into_a_replay(pg_rt, monkeypatch):
    """Two first writers of one key: the loser's one-statement write fails with SQLAlchemy's
    IntegrityError (raised from the driver's cursor), ``transact`` runs it again and the
    second time the lock step reads the winner's record: a replay, nothing written twice."""
    with pg_rt.session_factory() as s:
        case = _submitted(s)
    persist = writes.persist
    raced = []

    def winner_first(session, change, connection=None):  # noqa: ANN001, ANN202
        if not raced:
            raced.append(True)
            with pg_rt.session_factory() as other:
                other.add(
                    IdempotencyRecord(
                        actor="rob",
                        key="race",
                        instance_id=case,
                        trigger="approve",
                        result={
                            "instance_id": case,
                            "trigger": "approve",
                            "from_state": "pending",
                            "to_state": "approved",
                            "version": 3,
                            "audit_seq": 3,
                        },
                    )
                )
                other.commit()
        return persist(session, change, connection)

    monkeypatch.setattr(writes, "persist", winner_first)
    with pg_rt.session_factory() as s:
        result = transact(
            s, lambda: engine.fire(s, case, "approve", RISK, {"amount": 3}, idempotency_key="race")
        )
        assert result.replayed and result.to_state == "approved"
        assert s.get(WorkflowInstance, case).version == 2  # the loser wrote nothing
        with pytest.raises(IntegrityError):
            s.add(
                IdempotencyRecord(
                    actor="rob", key="race", instance_id=case, trigger="approve", result={}
                )
            )
            s.flush()


def test_postgresql_fires_in_three_round_trips(pg_rt):
    with pg_rt.session_factory() as s:
        case = _submitted(s)
        with statements_sent() as statements:
            transact(
                s,
                lambda: engine.fire(
                    s, case, "approve", RISK, {"amount": 3}, idempotency_key="rt-1"
                ),
            )
        # lock (with the key's record), every write, COMMIT
        assert [sql.split()[0] for sql in statements] == ["WITH", "WITH", "COMMIT"]
        assert verify_all(s).ok


def test_authorize_reads_the_row_as_plain_columns_and_leaves_the_session_empty(session, engine_rt):
    case = _submitted(session)
    session.expunge_all()
    engine.authorize(session, case, "approve", RISK, expected_version=2)
    assert len(session.identity_map) == 0
    seen = writes.read(session, case)
    assert seen is not None and (seen.state, seen.version) == ("pending", 2)
    assert writes.read(session, 999_999) is None
    session.rollback()


def _statements(s, command):  # noqa: ANN001, ANN202
    """The statements ``command`` sends on PostgreSQL (first word each)."""
    with statements_sent() as sent:
        command()
    return first_words(sent)


def test_fire_reuses_the_lock_authorize_took_only_in_the_same_transaction(pg_rt):
    with pg_rt.session_factory() as s:
        case = _submitted(s)
        held = engine.authorize(s, case, "approve", RISK, expected_version=2)
        assert held.instance is not None and held.transaction is not None
        assert _statements(
            s, lambda: engine.fire(s, case, "approve", RISK, {"amount": 3}, held=held)
        ) == ["WITH"]  # every write; no second lock
        s.rollback()
        # the lock ended with its transaction: fire() takes its own
        assert _statements(
            s, lambda: engine.fire(s, case, "approve", RISK, {"amount": 3}, held=held)
        ) == ["SELECT", "WITH"]
        s.rollback()
        held = engine.authorize(s, case, "approve", RISK)
        other = Actor(
            "rita", frozenset({"risk_officer"})
        )  # another actor, key or case: locked again
        assert _statements(
            s, lambda: engine.fire(s, case, "approve", other, {"amount": 3}, held=held)
        ) == ["SELECT", "WITH"]
        s.commit()
        assert s.get(WorkflowInstance, case).version == 3
        assert verify_all(s).ok


def test_authorize_locks_the_row_on_postgresql(pg_rt):
    with pg_rt.session_factory() as s, pg_rt.session_factory() as other:
        case = _submitted(s)
        engine.authorize(s, case, "approve", RISK)
        other.execute(text("SET LOCAL lock_timeout = '100ms'"))
        with pytest.raises(OperationalError):
            other.execute(
                text("SELECT id FROM workflow_instances WHERE id = :id FOR UPDATE"), {"id": case}
            )
        other.rollback()
        s.rollback()  # a refusal's rollback (the API's teardown) lets the row go
        other.execute(
            text("SELECT id FROM workflow_instances WHERE id = :id FOR UPDATE NOWAIT"), {"id": case}
        )
        other.rollback()
