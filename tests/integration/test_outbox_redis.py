"""A broker that is down at commit time loses no message: the relay delivers it later."""

from __future__ import annotations

import shutil
import socket
import subprocess
import time
from datetime import timedelta

from sqlalchemy import select

from tests.support.databases import require
from tests.support.worker import run_queue
from workflow.background.broker import build_broker, declare_actor
from workflow.engine import firing as engine
from workflow.records import outbox
from workflow.records.identity import Actor
from workflow.records.models import OutboxMessage, WorkflowInstance

SALES = Actor("alice", frozenset({"sales"}))


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def test_messages_written_while_redis_is_down_are_delivered_when_it_returns(engine_rt, tmp_path):
    require("redis-server", shutil.which("redis-server") is not None)
    rt = engine_rt
    port = free_port()
    broker = build_broker(f"redis://127.0.0.1:{port}/0")
    declare_actor(broker, rt)
    try:
        with rt.session_factory() as s:
            inst = engine.start(s, "test_approval", SALES)
            s.commit()
            engine.fire(s, inst.id, "submit", SALES)
            s.commit()  # the after-commit send fails: nothing listens on the port yet
            case = inst.id
        with rt.session_factory() as s:
            assert [m.status for m in s.execute(select(OutboxMessage)).scalars()] == ["pending"]

        server = subprocess.Popen(
            [
                "redis-server",
                "--port",
                str(port),
                "--bind",
                "127.0.0.1",
                "--save",
                "",
                "--appendonly",
                "no",
                "--dir",
                str(tmp_path),
            ],
            stdout=subprocess.DEVNULL,
        )
        try:
            for _ in range(50):
                try:
                    socket.create_connection(("127.0.0.1", port), timeout=0.2).close()
                    break
                except OSError:
                    time.sleep(0.1)
            assert outbox.relay_once(rt.session_factory, redeliver_after=timedelta(0)) == 1
            run_queue(broker)
            with rt.session_factory() as s:
                assert [m.status for m in s.execute(select(OutboxMessage)).scalars()] == ["done"]
                assert s.get(WorkflowInstance, case).data["notes"] == ["noted v2"]
        finally:
            server.terminate()
            server.wait(10)
    finally:
        rt.outbox_sender = None
        broker.close()
