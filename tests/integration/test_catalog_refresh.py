"""Every process's catalog finds definition versions another process recorded: at the
start of a transaction, at most every ``CHECK_SECONDS``; a stored version that does not
compile here is skipped and logged, never stopping the transaction (SQLite and PostgreSQL)."""

from __future__ import annotations

import logging

import pytest
import yaml
from sqlalchemy import select

from workflow.engine import catalog as catalog_module
from workflow.engine import firing as engine
from workflow.engine import runtime
from workflow.engine.catalog import CHECK_SECONDS
from workflow.engine.definitions import parse_definition
from workflow.records.identity import Actor
from workflow.records.models import DefinitionRecord

SYSTEM = Actor.system("test")


def next_version(rt: runtime.Runtime, name: str, **changes: object) -> str:
    latest = rt.catalog.get(name)
    document = yaml.safe_load(latest.source)
    document.update(version=latest.version + 1, **changes)
    return yaml.safe_dump(document, allow_unicode=True, sort_keys=False)


class Monotonic:
    """A monotonic clock the test moves."""

    def __init__(self) -> None:
        self.now = 1000.0

    def monotonic(self) -> float:
        return self.now


def test_a_version_recorded_elsewhere_is_loaded_on_the_next_check(
    engine_rt: runtime.Runtime, caplog: pytest.LogCaptureFixture, monkeypatch: pytest.MonkeyPatch
) -> None:
    clock = Monotonic()
    monkeypatch.setattr(catalog_module, "time", clock)
    catalog = engine_rt.catalog
    name = catalog.latest()[0].name
    before = catalog.get(name).version
    # another process records a version (its catalog is not this one)
    text = next_version(engine_rt, name)
    other = parse_definition(text, "other process", catalog.registry, catalog.policy)
    broken = yaml.safe_load(text) | {"version": before + 2, "initial": "nowhere"}
    with engine_rt.session() as session:
        session.add(
            DefinitionRecord(
                name=name, version=before + 1, content_hash=other.content_hash, source=text
            )
        )
        session.add(
            DefinitionRecord(
                name=name,
                version=before + 2,
                content_hash="0" * 64,
                source=yaml.safe_dump(broken, allow_unicode=True),
            )
        )
        session.commit()

    clock.now += CHECK_SECONDS / 2
    with engine_rt.session() as session:  # within CHECK_SECONDS of the last look: not yet
        session.execute(select(1))
    assert catalog.get(name).version == before

    clock.now += CHECK_SECONDS / 2
    with caplog.at_level(logging.ERROR), engine_rt.session() as session:
        session.execute(select(1))  # the transaction's start loads what compiles
        instance = engine.start(session, name, SYSTEM)
        session.commit()
        started_on = instance.definition_version
    assert catalog.get(name).version == before + 1 == started_on
    assert f"{name} v{before + 2} not loaded" in caplog.text

    clock.now += CHECK_SECONDS
    with engine_rt.session() as session:  # the broken row is not tried again
        session.execute(select(1))
    assert catalog.get(name).version == before + 1
