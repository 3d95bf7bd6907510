"""A definition's validation collects every problem in one pass: each with the file, a key
path and a coded message; loading a file still fails at once, naming every problem."""

from __future__ import annotations

from pathlib import Path

import pytest
import yaml

from api import composition
from workflow.engine.definitions import load_folder, parse_definition
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


def problems_of(doc: dict) -> list[DefinitionError]:
    catalog = composition.catalog()
    with pytest.raises(DefinitionError) as info:
        parse_definition(
            yaml.safe_dump(doc, allow_unicode=True), "demo.yaml", catalog.registry, catalog.policy
        )
    return list(info.value.problems)


def by_key(problems: list[DefinitionError]) -> dict[str, DefinitionError]:
    return {p.key: p for p in problems}


def test_independent_mistakes_are_all_reported_with_a_key_path_and_a_code() -> None:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    doc["states"]["b"]["sla"] = "soon"
    doc["transitions"][0]["dest"] = "nowhere"
    doc["transitions"][1]["roles"] = ["wizard"]
    doc["transitions"][1]["guards"] = ["is_friday"]
    doc["transitions"].append(
        {"trigger": "go", "source": "a", "dest": "done", "roles": ["sales"], "condition": "x >"}
    )
    found = by_key(problems_of(doc))
    assert set(found) == {
        "states.b.sla",
        "transitions[0].dest",
        "transitions[1].roles",
        "transitions[1].guards[0]",
        "transitions[2].condition",
    }, found
    assert all(p.file == "demo.yaml" for p in found.values())
    dest = found["transitions[0].dest"]
    assert dest.code == "definition.unknown_state"
    assert dest.params == {"state": "nowhere", "states": ["a", "b", "done"]}
    assert "unknown state 'nowhere'" in dest.fix
    assert found["states.b.sla"].code == "definition.duration"
    assert found["states.b.sla"].params["value"] == "soon"
    assert found["transitions[1].roles"].params["role"] == "wizard"
    assert found["transitions[1].guards[0]"].params == {
        "kind": "guard",
        "name": "is_friday",
        "known": found["transitions[1].guards[0]"].params["known"],
    }
    assert found["transitions[2].condition"].code == "definition.condition"


def test_ambiguous_triggers_and_a_missing_initial_state_come_with_the_other_problems() -> None:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    del doc["initial"]
    doc["transitions"].append({"trigger": "go", "source": "a", "dest": "done", "roles": ["sales"]})
    doc["timers"][0]["after"] = -5
    doc["colour"] = "blue"
    found = by_key(problems_of(doc))
    assert {"initial", "transitions[2].trigger", "timers[0].after", "colour"} <= set(found)
    assert found["initial"].code == "definition.required"
    ambiguous = found["transitions[2].trigger"]
    assert ambiguous.code == "definition.ambiguous"
    assert ambiguous.params == {"trigger": "go", "other": "transitions[0]", "state": "a"}
    assert found["colour"].code == "definition.unknown_key"


def test_a_broken_part_is_not_echoed_by_the_graph_checks() -> None:
    """A transition with an unknown source is left out of reachability: no "unreachable"
    state follows from it."""
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    doc["transitions"][0]["source"] = "nowhere"
    found = problems_of(doc)
    assert [(p.key, p.code) for p in found] == [
        ("transitions[0].source", "definition.unknown_state")
    ]


def test_the_graph_problems_are_all_reported_too() -> None:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    doc["states"] |= {"lost": {"final": True}, "stuck": {}}
    doc["transitions"].append(
        {"trigger": "hold", "source": "a", "dest": "stuck", "roles": ["sales"]}
    )
    found = by_key(problems_of(doc))
    assert found["states.lost"].code == "definition.unreachable"
    assert found["states.stuck"].code == "definition.dead_end"


def test_loading_a_file_fails_at_once_naming_every_problem(tmp_path: Path) -> None:
    doc = yaml.safe_load(yaml.safe_dump(BASE))
    doc["states"]["b"]["sla"] = "soon"
    doc["transitions"][0]["dest"] = "nowhere"
    doc["transitions"][1]["roles"] = ["wizard"]
    (tmp_path / "demo.yaml").write_text(yaml.safe_dump(doc), encoding="utf-8")
    catalog = composition.catalog()
    with pytest.raises(DefinitionError) as info:
        load_folder(tmp_path, catalog.registry, catalog.policy)
    text = str(info.value)
    assert text.startswith("demo.yaml: states.b.sla: ")
    assert "; transitions[0].dest: unknown state 'nowhere'" in text
    assert "; transitions[1].roles: unknown role 'wizard'" in text
    assert len(info.value.problems) == 3


def test_a_valid_definition_still_compiles() -> None:
    catalog = composition.catalog()
    definition = parse_definition(
        yaml.safe_dump(BASE), "demo.yaml", catalog.registry, catalog.policy
    )
    assert [t.dest for t in definition.transitions] == ["b", "done"]
    assert definition.timers[0].after.days == 2
