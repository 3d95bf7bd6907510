"""After commit, a Redis-backed engine hands its outbox ids to the broker off the caller's
thread, several per message (workflow.background.sending); a worker runs each id, and
one that fails is retried alone."""

from __future__ import annotations

import json
import time

import redis
from sqlalchemy import select

from tests.support.databases import REDIS_TEST_URL, redis_available, require
from tests.support.worker import run_queue
from workflow.background.broker import QUEUE, build_broker, declare_actor
from workflow.background.sending import BatchSender
from workflow.engine import firing as engine
from workflow.records.identity import Actor
from workflow.records.models import OutboxMessage, WorkflowInstance

SALES = Actor("alice", frozenset({"sales"}))


def _messages_with(client: redis.Redis, ids: set[int]) -> list[list[int]]:
    """The outbox ids of each queued message that carries any of ``ids`` (another test
    run sharing the Redis database may have queued messages of its own)."""
    found = []
    for raw in client.hvals(f"dramatiq:{QUEUE}.msgs"):
        args = json.loads(raw)["args"]
        carried = set(args[0]) if isinstance(args[0], list) else {args[0]}
        if carried & ids:
            found.append(sorted(carried))
    return found


def test_ids_committed_together_leave_as_one_message_and_are_all_run(engine_rt):
    require("Redis", redis_available())
    client = redis.Redis.from_url(REDIS_TEST_URL)
    client.flushdb()
    broker = build_broker(REDIS_TEST_URL)
    declare_actor(broker, engine_rt)
    sender = engine_rt.outbox_sender
    assert isinstance(sender, BatchSender)
    try:
        cases = []
        with engine_rt.session_factory() as s:
            for _ in range(5):
                inst = engine.start(s, "test_approval", SALES)
                s.commit()
                cases.append(inst.id)
        with engine_rt.session_factory() as s:
            sender._linger_s = (
                1.0  # the five commits below land in one batch, even on a busy machine
            )
            ids: set[int] = set()
            for case in cases:
                engine.fire(s, case, "submit", SALES)
                s.commit()  # returns before the broker is reached
                ids.update(
                    s.execute(select(OutboxMessage.id).where(OutboxMessage.status == "pending"))
                    .scalars()
                    .all()
                )
            for _ in range(100):
                if _messages_with(client, ids):
                    break
                time.sleep(0.05)
            time.sleep(0.3)
            assert len(ids) == 5
            assert _messages_with(client, ids) == [sorted(ids)]  # five outbox ids, one message
        run_queue(broker)
        with engine_rt.session_factory() as s:
            statuses = s.execute(select(OutboxMessage.status)).scalars().all()
            assert statuses == ["done"] * 5
            for case in cases:
                assert s.get(WorkflowInstance, case).data["notes"] == ["noted v2"]
    finally:
        engine_rt.outbox_sender = None
        broker.close()
        client.flushdb()


def test_a_batch_sender_sends_now_on_the_callers_thread_and_survives_a_broker_error():
    sent: list[list[int]] = []

    def send_batch(ids: list[int]) -> None:
        if 13 in ids:
            raise ConnectionError("broker down")
        sent.append(ids)

    each: list[list[int]] = []
    sender = BatchSender(send_batch, each.append, linger_s=0)
    sender.now([1, 2])
    assert each == [[1, 2]] and sent == []
    sender([13])  # refused by the broker: logged, left to the relay
    time.sleep(0.2)
    sender([3])
    for _ in range(100):
        if [3] in sent:
            break
        time.sleep(0.01)
    assert sent == [[3]]  # the thread outlived the refused batch


def test_a_busy_sender_sends_at_most_one_message_per_spacing():
    """An idle process sends a commit's ids at once; what commits within the spacing after a
    send leaves together in the next message."""
    sent: list[list[int]] = []
    sender = BatchSender(sent.append, sent.append, linger_s=0, spacing_s=0.5)
    sender([1])
    for _ in range(200):
        if sent:
            break
        time.sleep(0.01)
    assert sent == [[1]]
    for outbox_id in (2, 3, 4):  # within the spacing after the first message
        sender([outbox_id])
    for _ in range(300):
        if len(sent) > 1:
            break
        time.sleep(0.01)
    assert sent == [[1], [2, 3, 4]]
