"""The engine stands alone: ``workflow`` never imports Flask, ``api`` or ``web``."""

import ast
from pathlib import Path

FORBIDDEN = {"flask", "flask_sqlalchemy", "flask_smorest", "flask_migrate", "api", "web", "werkzeug"}


def imported_roots(path: Path) -> set[str]:
    tree = ast.parse(path.read_text(encoding="utf-8"))
    roots = set()
    for node in ast.walk(tree):
        if isinstance(node, ast.Import):
            roots.update(alias.name.split(".")[0] for alias in node.names)
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            roots.add(node.module.split(".")[0])
    return roots


def test_the_engine_imports_nothing_from_the_web_layers():
    offenders = {
        str(path): sorted(imported_roots(path) & FORBIDDEN)
        for path in Path("workflow").rglob("*.py")
        if imported_roots(path) & FORBIDDEN
    }
    assert offenders == {}
