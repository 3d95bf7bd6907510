"""Verification catches each way of tampering with the trail, on SQLite and PostgreSQL.

The attacker has write access to the database (on PostgreSQL they disable the
append-only trigger with ``session_replication_role = replica``) but not the
audit key.
"""

from __future__ import annotations

import pytest
from sqlalchemy import select

from tests.support.tampering import KEY, SALES, rehash, tamper
from workflow.audit import checkpoints
from workflow.audit.verification import verify_all
from workflow.engine import firing as engine
from workflow.errors import ConfigurationError
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord

RISK = Actor("rob", frozenset({"risk_officer"}))
SYSTEM = Actor.system("sla")
CLIENT = "client:5"


@pytest.fixture
def trail(session):
    """An approved case of five records, a client stream of four, and a checkpoint."""
    inst = engine.start(session, "test_approval", SALES, subject_id=5)
    session.commit()
    for trigger, actor, payload in (
        ("submit", SALES, {}),
        ("escalate", SYSTEM, {}),
        ("escalate", SYSTEM, {}),
        ("approve", RISK, {"amount": 9}),
    ):
        engine.fire(session, inst.id, trigger, actor, payload)
        session.commit()
    for n in range(4):
        audit.record_event(
            session, CLIENT, "client.updated", SALES, payload={"n": n, "名称": "华为"}
        )
        session.commit()
    checkpoints.create_checkpoint(session, Actor.system("test"), key=KEY)
    session.commit()
    assert verify_all(session, key=KEY).ok
    return audit.instance_stream(inst.id)


def first_break(session):
    report = verify_all(session, key=KEY)
    assert not report.ok
    return report.first_break


def test_a_tampered_row_is_named_with_its_stream_and_sequence(session, trail):
    tamper(
        session,
        "UPDATE audit_records SET comment = 'forged' WHERE stream = :s AND seq = 3",
        s=trail,
    )
    brk = first_break(session)
    assert (brk.stream, brk.seq) == (trail, 3) and "altered" in brk.reason


def test_a_tampered_row_with_a_recomputed_hash_is_caught_by_the_next_link(session, trail):
    rehash(session, trail, 2, comment="nothing to see")
    brk = first_break(session)
    assert (brk.stream, brk.seq) == (trail, 2) and "recomputed" in brk.reason


def test_a_rehashed_last_record_with_its_head_rewritten_is_caught_by_the_checkpoint(session, trail):
    new_hash = rehash(session, CLIENT, 4, actor="mallory")
    tamper(
        session, "UPDATE audit_streams SET audit_hash = :h WHERE stream = :s", h=new_hash, s=CLIENT
    )
    brk = first_break(session)
    assert (brk.stream, brk.seq) == (CLIENT, 4) and "differs from the checkpoint" in brk.reason


def test_a_deleted_row_is_reported_missing(session, trail):
    tamper(session, "DELETE FROM audit_records WHERE stream = :s AND seq = 2", s=CLIENT)
    brk = first_break(session)
    assert (brk.stream, brk.seq) == (CLIENT, 2) and "missing" in brk.reason


def test_a_reordered_pair_is_reported_as_reordered(session, trail):
    tamper(
        session,
        "UPDATE audit_records SET seq = -1 WHERE stream = :s AND seq = 2",
        "UPDATE audit_records SET seq = 2 WHERE stream = :s AND seq = 3",
        "UPDATE audit_records SET seq = 3 WHERE stream = :s AND seq = -1",
        s=trail,
    )
    brk = first_break(session)
    assert (brk.stream, brk.seq) == (trail, 2) and "reordered" in brk.reason


def test_a_deleted_stream_with_its_head_row_is_caught_by_the_checkpoint(session, trail):
    tamper(
        session,
        "DELETE FROM audit_records WHERE stream = :s",
        "DELETE FROM audit_streams WHERE stream = :s",
        s=CLIENT,
    )
    brk = first_break(session)
    assert (brk.stream, brk.seq) == (CLIENT, 4) and "deleted stream" in brk.reason


def test_a_deleted_instance_stream_is_caught_by_its_head_row(session, trail):
    tamper(session, "DELETE FROM audit_records WHERE stream = :s", s=trail)
    brk = first_break(session)
    assert brk.stream == trail and "gone" in brk.reason


def test_a_cut_tail_with_the_head_moved_back_is_caught_by_the_checkpoint(session, trail):
    previous = session.execute(
        select(AuditRecord.hash).where(AuditRecord.stream == CLIENT, AuditRecord.seq == 3)
    ).scalar_one()
    tamper(
        session,
        "DELETE FROM audit_records WHERE stream = :s AND seq = 4",
        "UPDATE audit_streams SET audit_seq = 3, audit_hash = :h WHERE stream = :s",
        s=CLIENT,
        h=previous,
    )
    brk = first_break(session)
    assert (
        (brk.stream, brk.seq) == (CLIENT, 4)
        and "cut tail" in brk.reason
        and "ends at 3" in brk.reason
    )


def test_a_checkpoint_forged_without_the_key_is_reported(session, trail):
    # Cut the tail, then try to cover it with a new checkpoint signed by a guessed key.
    previous = session.execute(
        select(AuditRecord.hash).where(AuditRecord.stream == CLIENT, AuditRecord.seq == 3)
    ).scalar_one()
    tamper(
        session,
        "DELETE FROM audit_records WHERE stream = :s AND seq = 4",
        "UPDATE audit_streams SET audit_seq = 3, audit_hash = :h WHERE stream = :s",
        s=CLIENT,
        h=previous,
    )
    checkpoints.create_checkpoint(session, Actor("mallory", frozenset()), key="guessed-key")
    session.commit()
    brk = first_break(session)
    assert (brk.stream, brk.seq) == ("checkpoint:2", 2) and "forged checkpoint" in brk.reason


def test_a_checkpoint_head_changed_after_signing_is_reported(session, trail):
    tamper(session, "UPDATE audit_checkpoint_heads SET seq = 2 WHERE stream = :s", s=CLIENT)
    brk = first_break(session)
    assert (brk.stream, brk.seq) == (CLIENT, 1) and "forged checkpoint" in brk.reason


def test_a_deleted_checkpoint_head_is_reported(session, trail):
    tamper(session, "DELETE FROM audit_checkpoint_heads WHERE stream = :s", s=CLIENT)
    brk = first_break(session)
    assert brk.seq == 1 and "forged checkpoint" in brk.reason and "removed" in brk.reason


def test_checkpoints_sign_only_the_heads_that_moved_and_keep_verifying(session, trail):
    audit.record_event(session, CLIENT, "client.updated", SALES, payload={"n": 5})
    session.commit()
    second = checkpoints.create_checkpoint(session, Actor.system("test"), key=KEY)
    session.commit()
    assert (second.seq, second.streams) == (2, 1)
    report = verify_all(session, key=KEY)
    assert report.ok and report.checkpoints == 2 and report.replayed == 1


def test_verification_with_checkpoints_but_no_key_says_which_setting_to_set(session, trail):
    with pytest.raises(ConfigurationError, match="RISKLOOP_AUDIT_KEY"):
        verify_all(session)


def test_a_checkpoint_without_an_audit_key_says_which_setting_to_set(session):
    with pytest.raises(ConfigurationError, match="RISKLOOP_AUDIT_KEY"):
        checkpoints.create_checkpoint(session, Actor.system("test"))


def test_a_state_moved_on_the_instance_row_is_caught_by_the_replay(session, trail):
    instance_id = int(trail.split(":", 1)[1])
    tamper(session, "UPDATE workflow_instances SET state = 'rejected' WHERE id = :i", i=instance_id)
    brk = first_break(session)
    assert brk.stream == trail and brk.seq == 5
    assert "replay gives state 'approved' v5" in brk.reason and "'rejected' v5" in brk.reason
