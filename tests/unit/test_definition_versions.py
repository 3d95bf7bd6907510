"""Several versions of one definition live in one catalog; a state may list the data it
requires; an instance is classified against a target version without a database."""

from __future__ import annotations

import shutil
from pathlib import Path
from types import SimpleNamespace

import pytest

from api import composition
from workflow.engine import migration
from workflow.engine.definitions import parse_definition
from workflow.errors import DefinitionError, ValidationFailed

ROOT = Path(__file__).resolve().parents[2]
V3 = ROOT / "definitions" / "due_diligence.yaml"
V4 = ROOT / "tests" / "fixtures" / "definition_versions" / "due_diligence_v4.yaml"


def two_versions(tmp_path: Path):  # noqa: ANN201
    shutil.copy(V3, tmp_path / "due_diligence.yaml")
    shutil.copy(V4, tmp_path / "due_diligence_v4.yaml")
    catalog = composition.catalog()
    catalog.load_folder(tmp_path)
    return catalog


def test_a_folder_of_versions_loads_each_and_new_cases_start_on_the_latest(tmp_path: Path) -> None:
    catalog = two_versions(tmp_path)

    assert [d.version for d in catalog.versions("due_diligence")] == [3, 4]
    assert catalog.get("due_diligence").version == 4
    assert "under_review" in catalog.get("due_diligence", 3).states
    assert "under_review" not in catalog.get("due_diligence", 4).states
    assert catalog.get("due_diligence", 4).states["opened"].requires == ("priority",)
    assert (
        catalog.get("due_diligence", 3).content_hash != catalog.get("due_diligence", 4).content_hash
    )


def test_requires_must_list_data_keys() -> None:
    catalog = composition.catalog()
    text = V4.read_text(encoding="utf-8").replace("requires: [priority]", "requires: priority")
    with pytest.raises(DefinitionError) as refused:
        parse_definition(text, "dd.yaml", catalog.registry, catalog.policy)
    assert refused.value.key == "states.opened.requires"


def case(state: str, **data: object) -> SimpleNamespace:
    return SimpleNamespace(id=7, definition_version=3, state=state, data=data)


def test_each_reason_an_instance_cannot_move(tmp_path: Path) -> None:
    goal = two_versions(tmp_path).get("due_diligence", 4)

    assert migration.classify(case("collecting"), goal, {}, False).status == "migratable"
    removed = migration.classify(case("under_review"), goal, {}, False)
    assert (removed.status, removed.reason) == ("blocked", "state_removed")
    mapped = migration.classify(case("under_review"), goal, {"under_review": "collecting"}, False)
    assert (mapped.status, mapped.to_state) == ("migratable", "collecting")
    missing = migration.classify(case("opened", priority=""), goal, {}, False)
    assert (missing.reason, missing.detail) == ("required_data_missing", {"fields": ["priority"]})
    assert migration.classify(case("opened", priority="high"), goal, {}, False).reason is None
    final = migration.classify(case("collecting"), goal, {"collecting": "passed"}, False)
    assert final.reason == "state_final"
    busy = migration.classify(case("collecting"), goal, {}, True)
    assert busy.reason == "tasks_pending"


def test_a_state_map_naming_unknown_or_final_states_is_refused_per_key(tmp_path: Path) -> None:
    catalog = two_versions(tmp_path)
    goal = catalog.get("due_diligence", 4)
    with pytest.raises(ValidationFailed) as refused:
        migration.check_state_map(
            catalog,
            "due_diligence",
            goal,
            {"nowhere": "collecting", "under_review": "gone", "collecting": "failed"},
        )
    assert sorted(refused.value.extra["errors"]["state_map"]) == [
        "collecting",
        "nowhere",
        "under_review",
    ]
