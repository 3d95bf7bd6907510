"""The process-wide pieces the engine needs outside a request: the catalog,
settings and a session factory. Set once at start-up by ``api.create_app`` (or a
test); read by the engine, the actors and the scheduler."""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from workflow.engine.catalog import Catalog
from workflow.engine.registry import load_domain


@dataclass
class Runtime:
    catalog: Catalog
    session_factory: Callable[[], Session] | None = None
    settings: dict[str, Any] = field(default_factory=dict)


_current: Runtime | None = None


def configure(runtime: Runtime) -> Runtime:
    global _current
    _current = runtime
    return runtime


def current() -> Runtime:
    if _current is None:
        raise RuntimeError(
            "the riskloop runtime is not configured; create the app with api.create_app() "
            "or call workflow.engine.runtime.configure() first"
        )
    return _current


def new_catalog() -> Catalog:
    return Catalog(load_domain())


def setting(name: str, default: Any = None) -> Any:
    return current().settings.get(name, default) if _current else default
