"""The test suite keeps one folder axis (the level) and shares helpers only through
``tests/support``: no test imports another test or a ``conftest.py``."""

from __future__ import annotations

import ast
from pathlib import Path

TESTS = Path(__file__).resolve().parents[1]
LEVELS = {"unit", "integration", "api", "web", "browser", "e2e"}
SHARED = {"support", "fixtures", "artifacts", "__pycache__"}


def imports_of(path: Path) -> list[tuple[str, int]]:
    """(module, level) of every import: level > 0 for a relative one."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Import):
            found += [(alias.name, 0) for alias in node.names]
        elif isinstance(node, ast.ImportFrom):
            found.append((node.module or "", node.level))
    return found


def test_the_folders_of_tests_are_the_levels_and_the_shared_support():
    folders = {p.name for p in TESTS.iterdir() if p.is_dir() and not p.name.startswith(".")}

    assert folders - SHARED == LEVELS


def test_tests_import_shared_helpers_only_from_tests_support():
    offenders = []
    for path in TESTS.rglob("*.py"):
        if "support" in path.relative_to(TESTS).parts:
            continue  # support modules may import each other
        for module, level in imports_of(path):
            if level > 0 or (
                module.startswith("tests.") and not module.startswith("tests.support")
            ):
                offenders.append(f"{path.relative_to(TESTS)}: {'.' * level}{module}")

    assert offenders == []


def test_levels_have_no_subfolders():
    nested = [
        str(p.relative_to(TESTS))
        for level in LEVELS
        if (TESTS / level).is_dir()
        for p in (TESTS / level).iterdir()
        if p.is_dir() and p.name != "__pycache__"
    ]

    assert nested == []
