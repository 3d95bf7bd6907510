from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.support.databases import REDIS_TEST_URL, fresh_postgres, redis_available, require
from tests.support.stack import Stack, migrated_stack


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
