"""Firing looks its move up in a table (``compile_moves``); the table answers as the shared
``transitions`` machine does, for every definition shipped, in the fixtures and in the bench."""

from __future__ import annotations

from pathlib import Path

import pytest

import definitions
from api import composition
from tests import fixture_registry
from workflow.engine.definitions import Definition, load_folder
from workflow.engine.machine import _Proxy, run_transition

ROOT = Path(__file__).resolve().parent.parent.parent
FOLDERS = [
    Path(definitions.__file__).parent,
    ROOT / "tests" / "fixtures" / "definitions",
    ROOT / "bench" / "definitions",
]


def _loaded() -> list[Definition]:
    catalog = composition.catalog(fixture_registry.registry)
    found: list[Definition] = []
    for folder in FOLDERS:
        found += load_folder(folder, catalog.registry, catalog.policy)
    return found


def _machine_says(definition: Definition, trigger: str, index: int, state: str, dest: str) -> str:
    """What the machine answers (the engine's former path): the new state, or 'refused'."""
    proxy = _Proxy(state, index, dest)
    try:
        moved = definition.machine.events[trigger].trigger(proxy)
    except Exception:  # MachineError: no transition of this trigger from this state
        return "refused"
    return proxy.state if moved else "refused"


def _table_says(definition: Definition, trigger: str, index: int, state: str, dest: str) -> str:
    transition = next(t for t in definition.transitions if t.index == index)
    try:
        return run_transition(definition, state, transition, dest)
    except RuntimeError:
        return "refused"


def test_the_table_answers_every_move_as_the_machine_does() -> None:
    loaded = _loaded()
    assert len(loaded) >= 8
    checked = moved = 0
    for definition in loaded:
        assert definition.moves is not None
        for t in definition.transitions:
            for state in definition.states:
                for dest in (t.dest, *t.outcomes, *definition.states):
                    table = _table_says(definition, t.trigger, t.index, state, dest)
                    assert table == _machine_says(definition, t.trigger, t.index, state, dest), (
                        definition.name,
                        t.trigger,
                        state,
                        dest,
                    )
                    checked += 1
                    moved += table != "refused"
    assert moved > 50 and checked > moved  # both answers were exercised


def test_a_definition_built_without_its_table_gets_one_on_first_use() -> None:
    definition = _loaded()[0]
    definition.moves = None
    t = definition.transitions[0]
    assert run_transition(definition, t.sources[0], t) == t.dest
    assert definition.moves is not None
    with pytest.raises(RuntimeError):
        run_transition(definition, "no-such-state", t)
