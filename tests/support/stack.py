"""A migrated PostgreSQL database with the test users, and the environment to run riskloop's
processes on it."""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from tests.support.services import E2E_DEFINITIONS, create_users, environment, riskloop
from workflow.engine import firing as wf_engine
from workflow.engine import runtime
from workflow.records import outbox
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
        catalog = runtime.new_catalog()
        catalog.load_folder(E2E_DEFINITIONS)
        factory = sessionmaker(self.engine, expire_on_commit=False)
        with factory() as session:
            ids = [wf_engine.start(session, "e2e_flow", actor, catalog=catalog).id for _ in range(count)]
            session.commit()
        outbox.set_sender(None)
        return ids


def migrated_stack(url: str, tmp: Path, redis_url: str | None = None) -> Stack:
    env = environment(url, redis_url, tmp)
    riskloop(env, "db", "upgrade")
    create_users(url)
    return Stack(url=url, env=env, tmp=tmp, engine=create_engine(url, pool_size=4))
