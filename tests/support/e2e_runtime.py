"""The engine runtime in the test process, on an e2e database (to run tasks as a worker would)."""

from __future__ import annotations

from sqlalchemy.engine import Engine
from sqlalchemy.orm import sessionmaker

from tests.support.services import E2E_DEFINITIONS
from workflow.engine import runtime


def e2e_runtime(engine: Engine) -> runtime.Runtime:
    catalog = runtime.new_catalog()
    catalog.load_folder(E2E_DEFINITIONS)
    factory = sessionmaker(engine, expire_on_commit=False)
    return runtime.configure(runtime.Runtime(catalog=catalog, session_factory=factory,
                                             settings={"RISKLOOP_TIMEZONE": "Asia/Shanghai"}))
