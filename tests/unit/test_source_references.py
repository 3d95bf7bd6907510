"""Comments and docstrings point only at documents a reader of the repository has."""

from __future__ import annotations

import re
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
# The product documents live beside the repository, not in it.
OUTSIDE = re.compile(r"\bSPEC(?:\.md)? \d|\bSPEC\.md\b|\bSTACK\.md\b|\bSTYLE\.md\b|\.\./shared/")


def test_no_source_file_points_at_a_document_outside_the_repository() -> None:
    offenders = [
        f"{path.relative_to(ROOT)}:{number}"
        for folder in ("workflow", "api", "web", "tests", "bench", "examples")
        for path in sorted((ROOT / folder).rglob("*.py"))
        for number, line in enumerate(path.read_text(encoding="utf-8").splitlines(), 1)
        if OUTSIDE.search(line) and path != Path(__file__).resolve()
    ]
    assert offenders == []
