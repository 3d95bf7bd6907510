"""Every rule of a definition's schema refuses a bad definition with a message naming file and key."""

from __future__ import annotations

import pytest
import yaml

from api import composition
from workflow.engine.definitions import parse_definition
from workflow.engine.machine import mermaid
from workflow.errors import DefinitionError

BASE = {
    "name": "demo",
    "version": 1,
    "initial": "a",
    "states": {"a": {}, "b": {"sla": "48h"}, "done": {"final": True}},
    "transitions": [
        {"trigger": "go", "source": "a", "dest": "b", "roles": ["sales"]},
        {"trigger": "finish", "source": "b", "dest": "done", "roles": ["risk_officer"]},
    ],
    "timers": [{"state": "b", "after": "2d", "trigger": "finish"}],
}


def parse(doc: dict) -> object:
    catalog = composition.catalog()
    return parse_definition(
        yaml.safe_dump(doc, allow_unicode=True), "demo.yaml", catalog.registry, catalog.policy
    )


def variant(**changes: object) -> dict:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    doc.update(changes)
    return doc


def test_a_valid_definition_compiles_into_a_shared_machine_and_a_diagram():
    definition = parse(BASE)
    assert definition.machine is not None
    text = mermaid(definition, current="b")
    assert text.startswith("stateDiagram-v2")
    assert "a --> b : go" in text and "class b current" in text


BAD = [
    (
        "unknown role",
        variant(transitions=[{"trigger": "go", "source": "a", "dest": "done", "roles": ["ceo"]}]),
        "transitions[0].roles",
        "unknown role 'ceo'",
    ),
    (
        "auditor acting",
        variant(
            transitions=[{"trigger": "go", "source": "a", "dest": "done", "roles": ["auditor"]}]
        ),
        "roles",
        "may never act",
    ),
    (
        "unknown guard",
        variant(
            transitions=[
                {
                    "trigger": "go",
                    "source": "a",
                    "dest": "done",
                    "roles": ["sales"],
                    "guards": ["is_friday"],
                }
            ]
        ),
        "guards[0]",
        "unknown guard 'is_friday'",
    ),
    (
        "unknown effect",
        variant(
            transitions=[
                {
                    "trigger": "go",
                    "source": "a",
                    "dest": "done",
                    "roles": ["sales"],
                    "effects": ["launch"],
                }
            ]
        ),
        "effects[0]",
        "unknown effect 'launch'",
    ),
    (
        "unknown task",
        variant(
            transitions=[
                {
                    "trigger": "go",
                    "source": "a",
                    "dest": "done",
                    "roles": ["sales"],
                    "tasks": ["fax"],
                }
            ]
        ),
        "tasks[0]",
        "unknown task 'fax'",
    ),
    (
        "unreachable state",
        variant(
            states={"a": {}, "lost": {"final": True}, "done": {"final": True}},
            transitions=[{"trigger": "go", "source": "a", "dest": "done", "roles": ["sales"]}],
            timers=[],
        ),
        "states.lost",
        "unreachable",
    ),
    (
        "dead end",
        variant(
            states={"a": {}, "stuck": {}, "done": {"final": True}},
            transitions=[
                {"trigger": "go", "source": "a", "dest": "stuck", "roles": ["sales"]},
                {"trigger": "end", "source": "a", "dest": "done", "roles": ["sales"]},
            ],
            timers=[],
        ),
        "states.stuck",
        "no transition out",
    ),
    (
        "out of final",
        variant(
            transitions=[
                *BASE["transitions"],
                {"trigger": "undo", "source": "done", "dest": "a", "roles": ["sales"]},
            ]
        ),
        "source",
        "is final",
    ),
    (
        "timer on missing state",
        variant(timers=[{"state": "nowhere", "after": "1h", "trigger": "finish"}]),
        "timers[0].state",
        "missing state",
    ),
    (
        "timer trigger not leaving its state",
        variant(timers=[{"state": "a", "after": "1h", "trigger": "finish"}]),
        "timers[0].trigger",
        "no transition 'finish' leaves state 'a'",
    ),
    (
        "bad duration",
        variant(timers=[{"state": "b", "after": "soon", "trigger": "finish"}]),
        "timers[0].after",
        "not a duration",
    ),
    (
        "ambiguous",
        variant(
            transitions=[
                *BASE["transitions"],
                {"trigger": "go", "source": "a", "dest": "done", "roles": ["sales"]},
            ]
        ),
        "transitions[2].trigger",
        "ambiguous",
    ),
    (
        "bad expression",
        variant(
            transitions=[
                {
                    "trigger": "go",
                    "source": "a",
                    "dest": "b",
                    "roles": ["sales"],
                    "condition": "payload.x >",
                },
                BASE["transitions"][1],
            ]
        ),
        "condition",
        "does not parse",
    ),
    ("unknown key", variant(colour="blue"), "colour", "not a known key"),
    (
        "no final state",
        variant(
            states={"a": {}, "b": {}},
            transitions=[
                {"trigger": "go", "source": "a", "dest": "b", "roles": ["sales"]},
                {"trigger": "back", "source": "b", "dest": "a", "roles": ["sales"]},
            ],
            timers=[],
        ),
        "states",
        "final",
    ),
    ("missing initial", variant(initial="zzz"), "initial", "unknown state"),
    (
        "bad payload type",
        variant(
            transitions=[
                {
                    "trigger": "go",
                    "source": "a",
                    "dest": "b",
                    "roles": ["sales"],
                    "payload": {"x": {"type": "date"}},
                },
                BASE["transitions"][1],
            ]
        ),
        "payload.x.type",
        "unknown type",
    ),
]


@pytest.mark.parametrize(("case", "doc", "key", "message"), BAD, ids=[b[0] for b in BAD])
def test_a_bad_definition_is_refused_naming_file_and_key(case, doc, key, message):
    with pytest.raises(DefinitionError) as info:
        parse(doc)
    text = str(info.value)
    assert text.startswith("demo.yaml: "), text
    assert key in text and message in text, text


def test_invalid_yaml_is_refused():
    with pytest.raises(DefinitionError, match="demo.yaml: .*not valid YAML"):
        catalog = composition.catalog()
        parse_definition("states: [", "demo.yaml", catalog.registry, catalog.policy)


def test_the_shipped_definitions_all_load():
    from pathlib import Path

    import definitions
    from workflow.engine.definitions import load_folder

    catalog = composition.catalog()
    loaded = load_folder(Path(definitions.__file__).parent, catalog.registry, catalog.policy)
    assert all(d.machine is not None for d in loaded)
