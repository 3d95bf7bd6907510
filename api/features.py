"""Blueprints of the business features, each ``fn(app, api)`` registering its own.

Kept in one list so feature packages plug in without editing the factory. The console is
not one of them: ``create_app`` registers it by name, after the API.
"""

from __future__ import annotations

from typing import Any

FEATURES: list[Any] = []

from .blueprints.change_requests import register as _change_requests  # noqa: E402

FEATURES.append(_change_requests)
from .blueprints.due_diligence import register as _due_diligence  # noqa: E402

FEATURES.append(_due_diligence)
from .blueprints.audit import register as _audit  # noqa: E402

FEATURES.append(_audit)
from .blueprints.clients import register as _clients  # noqa: E402

FEATURES.append(_clients)
from .blueprints.alerts import register as _alerts  # noqa: E402

FEATURES.append(_alerts)
from .blueprints.events import register as _events  # noqa: E402

FEATURES.append(_events)
from .blueprints.config import register as _config  # noqa: E402

FEATURES.append(_config)
from .blueprints.erasure import register as _erasure  # noqa: E402

FEATURES.append(_erasure)
from .blueprints.definition_migrations import register as _definition_migrations  # noqa: E402

FEATURES.append(_definition_migrations)
