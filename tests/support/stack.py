"""A migrated PostgreSQL database with the test users, and the environment to run riskloop's
processes on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from tests.support.e2e_runtime import e2e_runtime
from tests.support.services import create_users, environment, riskloop
from workflow.engine import firing as wf_engine
from workflow.records.identity import Actor

SALES1 = Actor("sales1", frozenset({"sales"}))


@dataclass
class Stack:
    """A migrated PostgreSQL database with the test users, and the environment to run on it."""

    url: str
    env: dict[str, str]
    tmp: Path
    engine: Engine

    def with_redis(self, redis_url: str | None, **extra: str) -> dict[str, str]:
        return environment(self.url, redis_url, self.tmp, **extra)

    def start_instances(self, count: int, actor: Actor = SALES1) -> list[int]:
        rt = e2e_runtime(self.engine)  # no outbox sender: the scheduler's relay sends them
        with rt.session() as session:
            ids = [wf_engine.start(session, "e2e_flow", actor).id for _ in range(count)]
            session.commit()
        return ids


def migrated_stack(url: str, tmp: Path, redis_url: str | None = None) -> Stack:
    env = environment(url, redis_url, tmp)
    riskloop(env, "db", "upgrade")
    create_users(url)
    return Stack(url=url, env=env, tmp=tmp, engine=create_engine(url, pool_size=4))
