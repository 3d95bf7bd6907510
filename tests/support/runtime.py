"""An engine object over a database URL, with the test definitions loaded and synced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine

from api import composition
from tests import fixture_registry
from workflow.engine import runtime
from workflow.platform import clock
from workflow.platform.db import Base

FIXTURES = Path(__file__).parent.parent / "fixtures"
# The field-encryption key of the test engine objects (the same as the test apps').
ENCRYPTION_KEY = "3q2-7wEjT5Ue8gGz8ff6k8pO1o0mQ4nH9Tk8yq1bZ3I="


def engine_runtime(url: str) -> Iterator[runtime.Runtime]:
    """Yield the engine object (tables created, no outbox sender), then reset the clock."""
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    rt = composition.build_runtime(
        engine,
        {"RISKLOOP_TIMEZONE": "Asia/Shanghai"},
        folders=[FIXTURES / "definitions"],
        keys=[ENCRYPTION_KEY],
        extra=[fixture_registry.registry],
    )
    with rt.session() as s:
        rt.catalog.sync(s)
        s.commit()
    yield rt
    clock.freeze(None)
    engine.dispose()
