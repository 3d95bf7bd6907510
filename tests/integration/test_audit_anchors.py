"""Cutting the checkpoint chain is caught by the anchor file, on SQLite and PostgreSQL.

The attacker has write access to the database (and, on PostgreSQL, bypasses the
append-only trigger) but cannot rewrite the anchor file kept outside it. Each of
the three cuts leaves a database that verifies on its own.
"""

from __future__ import annotations

import json
import multiprocessing
import stat
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from sqlalchemy import select

from tests.support.tampering import KEY, SALES, rehash, tamper
from workflow.audit import anchors, checkpoints
from workflow.audit.checkpoints import AuditCheckpoint
from workflow.audit.verification import verify_all
from workflow.background.scheduler import Scheduler
from workflow.platform import clock
from workflow.records import trail as audit
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord

CLIENT = "client:5"
OTHER = "client:6"
HOURLY = Actor.system("audit-checkpoint")


@pytest.fixture
def anchor_file(engine_rt, tmp_path):
    """The audit key and an anchor file, as an app's settings give them."""
    path = tmp_path / "audit-anchors.log"
    engine_rt.settings["RISKLOOP_AUDIT_KEY"] = KEY
    engine_rt.settings[anchors.SETTING] = str(path)
    return path


def events(session, stream: str, count: int) -> None:
    for n in range(count):
        audit.record_event(session, stream, "client.updated", SALES, payload={"n": n})
        session.commit()


def checkpoint(session) -> AuditCheckpoint:
    signed = checkpoints.create_checkpoint(session, HOURLY)
    session.commit()
    return signed


def record_hash(session, stream: str, seq: int) -> str:
    return session.execute(
        select(AuditRecord.hash).where(AuditRecord.stream == stream, AuditRecord.seq == seq)
    ).scalar_one()


def anchored_lines(path) -> list[dict]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines()]


def test_every_checkpoint_is_appended_to_an_owner_only_anchor_file_once_committed(
    session, anchor_file
):
    events(session, CLIENT, 2)
    first = checkpoint(session)
    checkpoints.create_checkpoint(session, HOURLY)
    session.rollback()  # a checkpoint that is not committed is not anchored
    second = checkpoint(session)
    lines = anchored_lines(anchor_file)
    assert [(line["seq"], line["hmac"]) for line in lines] == [(1, first.hmac), (2, second.hmac)]
    assert lines[1]["prev_hmac"] == first.hmac and lines[0]["streams"] == 1
    assert stat.S_IMODE(anchor_file.stat().st_mode) == 0o600
    report = verify_all(session, key=KEY, anchor=anchor_file)
    assert report.ok and report.anchored == 2 and report.warnings == []


def test_deleting_the_newest_checkpoints_with_the_streams_they_signed_is_caught_by_the_anchor(
    session, anchor_file
):
    # Given checkpoint 1 over three records of one client, and checkpoint 2 over a
    # fourth record of it and a second client's stream,
    events(session, CLIENT, 3)
    checkpoint(session)
    events(session, CLIENT, 1)
    events(session, OTHER, 2)
    checkpoint(session)
    # when checkpoint 2 is deleted with everything it signed (the tail cut, the head moved back),
    tamper(
        session,
        "DELETE FROM audit_checkpoint_heads WHERE checkpoint_seq = 2",
        "DELETE FROM audit_checkpoints WHERE seq = 2",
        "DELETE FROM audit_records WHERE stream = :o",
        "DELETE FROM audit_streams WHERE stream = :o",
        "DELETE FROM audit_records WHERE stream = :s AND seq = 4",
        "UPDATE audit_streams SET audit_seq = 3, audit_hash = :h WHERE stream = :s",
        s=CLIENT,
        o=OTHER,
        h=record_hash(session, CLIENT, 3),
    )
    # the database alone still verifies, but not against the anchor file.
    assert verify_all(session, key=KEY).ok
    report = verify_all(session, key=KEY, anchor=anchor_file)
    assert not report.ok and report.anchored == 2
    brk = report.first_break
    assert (brk.stream, brk.seq) == ("checkpoint:2", 2)
    assert "cut checkpoint chain" in brk.reason and "newest checkpoint is 1" in brk.reason


def test_a_record_rewritten_with_its_head_before_the_first_hourly_checkpoint_is_caught(
    engine_rt, session, anchor_file
):
    # Given a trail that no hourly checkpoint has signed yet,
    events(session, CLIENT, 3)
    # a scheduler's first pass signs and anchors it (once, however many schedulers start).
    for _ in range(2):
        Scheduler(
            engine_rt.session_factory, engine_rt.catalog.registry, engine_rt.settings
        ).run_once()
    session.expire_all()
    signed = session.execute(select(AuditCheckpoint)).scalars().all()
    assert [(c.seq, c.streams, c.created_by) for c in signed] == [(1, 1, "system:audit-checkpoint")]
    assert [line["hmac"] for line in anchored_lines(anchor_file)] == [signed[0].hmac]
    # When the last record is rewritten and its head with it, the start-up checkpoint catches it;
    new_hash = rehash(session, CLIENT, 3, actor="mallory")
    tamper(
        session, "UPDATE audit_streams SET audit_hash = :h WHERE stream = :s", h=new_hash, s=CLIENT
    )
    brk = verify_all(session, key=KEY, anchor=anchor_file).first_break
    assert (brk.stream, brk.seq) == (CLIENT, 3) and "differs from the checkpoint" in brk.reason
    # and deleting that checkpoint as well is caught by the anchor, and warned about.
    tamper(session, "DELETE FROM audit_checkpoint_heads", "DELETE FROM audit_checkpoints")
    report = verify_all(session, key=KEY, anchor=anchor_file)
    assert report.first_break.stream == "checkpoint:1"
    assert "newest checkpoint does not exist" in report.first_break.reason
    assert any(w.startswith("NO CHECKPOINT") for w in report.warnings)


def test_checkpoints_deleted_and_signed_again_over_a_rewritten_trail_are_caught_by_the_anchor(
    session, anchor_file
):
    # Given an anchored checkpoint,
    events(session, CLIENT, 3)
    checkpoint(session)
    # when every checkpoint is deleted, a record rewritten with its head, and the next
    # hourly checkpoint signs the rewritten trail (self-consistent rows, valid HMACs),
    tamper(session, "DELETE FROM audit_checkpoint_heads", "DELETE FROM audit_checkpoints")
    new_hash = rehash(session, CLIENT, 3, actor="mallory")
    tamper(
        session, "UPDATE audit_streams SET audit_hash = :h WHERE stream = :s", h=new_hash, s=CLIENT
    )
    checkpoint(session)
    assert verify_all(session, key=KEY).ok
    # the anchor still holds the first checkpoint 1, which the database no longer has.
    report = verify_all(session, key=KEY, anchor=anchor_file)
    brk = report.first_break
    assert (brk.stream, brk.seq) == ("checkpoint:1", 1)
    assert "HMAC differs" in brk.reason and "anchor line 1" in brk.reason


def test_an_altered_line_of_the_anchor_file_fails_verification(session, anchor_file):
    events(session, CLIENT, 1)
    checkpoint(session)
    with anchor_file.open("a", encoding="utf-8") as fh:
        fh.write('# kept by the operator\n\n{"seq": 2, "hmac": "not-hex"}\n')
    brk = verify_all(session, key=KEY, anchor=anchor_file).first_break
    assert (brk.stream, brk.seq) == ("anchor:audit-anchors.log", 4)
    assert "not a checkpoint anchor" in brk.reason


def test_verification_warns_when_there_is_no_checkpoint_or_the_newest_is_late(session, anchor_file):
    events(session, CLIENT, 1)
    report = verify_all(session)
    assert report.ok
    assert [w.split(":")[0] for w in report.warnings] == ["NO CHECKPOINT", "NO ANCHOR"]
    assert report.to_dict()["warnings"] == report.warnings

    signed_at = datetime(2026, 5, 1, 2, 5)
    clock.freeze(signed_at)
    checkpoint(session)
    clock.freeze(signed_at + timedelta(hours=1, minutes=29))
    assert verify_all(session, key=KEY, anchor=anchor_file).warnings == []
    clock.freeze(signed_at + timedelta(hours=1, minutes=31))
    report = verify_all(session, key=KEY, anchor=anchor_file)
    assert report.ok and len(report.warnings) == 1
    assert report.warnings[0].startswith(
        "STALE CHECKPOINT: the newest checkpoint (1, 2026-05-01T02:05:00.000000Z) is 1 h 31 min old"
    )


def test_checkpoints_that_could_not_be_anchored_are_logged_and_warned_about(
    engine_rt, session, anchor_file, tmp_path, caplog
):
    checkpoint(session)
    engine_rt.settings[anchors.SETTING] = str(tmp_path / "no-such-folder" / "anchors.log")
    checkpoint(session)  # committed all the same: the trail is not held up by the file
    checkpoint(session)
    assert "audit checkpoint 3 is committed but could not be appended" in caplog.text
    report = verify_all(session, key=KEY, anchor=anchor_file)
    assert report.ok and report.checkpoints == 3 and report.anchored == 1
    assert len(report.warnings) == 1
    assert report.warnings[0].startswith(
        "ANCHOR BEHIND: the database's newest checkpoint is 3 but the anchor file's is 1"
    )


def _append_lines(path: str, writer: int) -> None:
    for n in range(200):
        anchors.append(
            Path(path),
            json.dumps({"seq": writer * 1000 + n + 1, "hmac": f"{n:064x}", "pad": "x" * 300}),
        )


def test_processes_appending_at_once_never_interleave_their_lines(tmp_path):
    path = tmp_path / "audit-anchors.log"
    context = multiprocessing.get_context("fork")
    writers = [context.Process(target=_append_lines, args=(str(path), w)) for w in range(4)]
    for writer in writers:
        writer.start()
    for writer in writers:
        writer.join()
    found = [anchor.seq for anchor in anchors.read(path)]
    assert sorted(found) == sorted(w * 1000 + n + 1 for w in range(4) for n in range(200))
