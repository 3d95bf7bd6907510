"""An engine runtime over a database URL, with the test definitions loaded and synced."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

from sqlalchemy import create_engine
from sqlalchemy.orm import sessionmaker

from workflow.engine import runtime
from workflow.platform import clock
from workflow.platform.db import Base
from workflow.records import outbox

FIXTURES = Path(__file__).parent.parent / "fixtures"


def engine_runtime(url: str) -> Iterator[runtime.Runtime]:
    """Yield the runtime (tables created), then reset the outbox sender and the clock."""
    engine = create_engine(url)
    Base.metadata.create_all(engine)
    factory = sessionmaker(engine, expire_on_commit=False)
    catalog = runtime.new_catalog()
    catalog.load_folder(FIXTURES / "definitions")
    rt = runtime.configure(runtime.Runtime(catalog=catalog, session_factory=factory,
                                           settings={"RISKLOOP_TIMEZONE": "Asia/Shanghai"}))
    with factory() as s:
        catalog.sync(s)
        s.commit()
    yield rt
    outbox.set_sender(None)
    clock.freeze(None)
    engine.dispose()
