from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import pytest
from sqlalchemy import create_engine
from sqlalchemy.engine import Engine

from tests.databases import REDIS_TEST_URL, fresh_postgres, redis_available, require
from tests.e2e.definitions_runtime import e2e_runtime
from tests.e2e.services import create_users, environment, riskloop
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


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    with fresh_postgres() as url:
        s = migrated_stack(url, tmp_path)
        yield s
        s.engine.dispose()


@pytest.fixture
def shared_redis_url() -> str:
    """The shared Redis, on the test database index (flushed by the tests that use it)."""
    require("Redis", redis_available())
    return REDIS_TEST_URL
