"""Settings of a definition overlaid with the active version of a governed kind.

``alert_routing`` and ``dd_checklist`` are parts of a definition's ``settings``; their
readers (alert intake, SLAs, the due-diligence checklist) take the definition's settings
with the active version's keys on top, read through the per-process cache of
:mod:`workflow.records.config_versions`.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml
from sqlalchemy.orm import Session

from workflow.records.config_versions import ConfigVersion, read_active


def _keys(row: ConfigVersion) -> dict[str, Any]:
    document = yaml.safe_load(row.content) or {}
    return {k: v for k, v in document.items() if k != "version"}


def governed_settings(session: Session, kind: str, base: Mapping[str, Any]) -> dict[str, Any]:
    """``base`` with the keys of the active version of ``kind`` on top."""
    return {**base, **read_active(session, kind, _keys, dict)}
