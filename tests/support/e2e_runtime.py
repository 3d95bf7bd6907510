"""The engine runtime in the test process, on an e2e database (to run tasks as a worker would)."""

from __future__ import annotations

from sqlalchemy.engine import Engine

from api import composition
from tests.support.services import E2E_DEFINITIONS
from workflow.engine.runtime import Runtime


def e2e_runtime(engine: Engine) -> Runtime:
    return composition.build_runtime(
        engine, {"RISKLOOP_TIMEZONE": "Asia/Shanghai"}, folders=[E2E_DEFINITIONS]
    )
