"""A non-editable install ships the definitions, migrations, templates and static files."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

ROOT = Path(__file__).resolve().parents[2]
SHIPPED_DIRS = (
    "definitions",
    "api/migrations",
    "api/templates",
    "api/static",
    "web/templates",
    "web/static",
)


def test_the_wheel_contains_every_data_file(tmp_path):
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "-w", str(tmp_path), str(ROOT)],
        check=True,
        capture_output=True,
    )
    wheel = next(tmp_path.glob("riskloop-*.whl"))
    names = set(zipfile.ZipFile(wheel).namelist())
    tracked = subprocess.run(
        ["git", "ls-files", *SHIPPED_DIRS], cwd=ROOT, check=True, capture_output=True, text=True
    ).stdout.split()
    missing = [f for f in tracked if not f.endswith((".pyc", ".po", ".pot")) and f not in names]
    assert missing == []
    assert any(n.startswith("definitions/") and n.endswith(".yaml") for n in names)
