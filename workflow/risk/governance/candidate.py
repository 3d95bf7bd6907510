"""Reading a candidate's YAML the way the shipped files are read (duplicate keys refused)."""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

import yaml

from workflow.risk.screening.rules import _UniqueKeyLoader


def settings_document(content: bytes) -> Any:
    """A definition's ``settings`` given bare or under ``settings:`` (a whole definition).

    Raises:
        ValueError: not valid YAML.
    """
    try:
        document = yaml.load(content, Loader=_UniqueKeyLoader)
    except yaml.YAMLError as exc:
        raise ValueError(f"(document): not valid YAML: {exc}") from exc
    if isinstance(document, Mapping) and isinstance(document.get("settings"), Mapping):
        return document["settings"]
    return document
