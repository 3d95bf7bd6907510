"""The engine stands alone: the leave-request example (its own roles, employee and
supervisor) runs from start to its final state on SQLite and PostgreSQL in a fresh
interpreter that never imports the customer-risk plug-in, the API, the console or Flask."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest
import yaml

ROOT = Path(__file__).parents[2]
EXAMPLE = ROOT / "examples" / "leave_request" / "run.py"

PROBE = """
import json, runpy, sys
example = runpy.run_path(sys.argv[1], run_name="leave_request_example")
outcome = example["main"](sys.argv[2])
foreign = sorted(m for m in sys.modules
                 if m.startswith(("workflow.risk", "flask", "werkzeug"))
                 or m.split(".")[0] in ("api", "web"))
print(json.dumps({"outcome": outcome, "foreign": foreign}))
"""


def test_the_leave_request_runs_to_its_final_state_on_the_engine_alone(empty_db_url):
    done = subprocess.run(
        [sys.executable, "-c", PROBE, str(EXAMPLE), empty_db_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=120,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout.strip().splitlines()[-1])
    assert report["foreign"] == []
    assert report["outcome"] == {
        "state": "approved",
        "is_open": False,
        "self_approval_refused_by": "not_initiator",
        "approval": "bob",
        "trail": ["started:", "transition:approve"],
    }


def test_the_example_definition_is_refused_with_the_policy_roles_named_when_it_names_another():
    from workflow.engine import builtins
    from workflow.engine.catalog import Catalog
    from workflow.engine.definitions import parse_definition
    from workflow.engine.policy import RolePolicy
    from workflow.errors import DefinitionError

    doc = yaml.safe_load((EXAMPLE.parent / "leave_request.yaml").read_text(encoding="utf-8"))
    doc["transitions"][0]["roles"] = ["risk_officer"]
    policy = RolePolicy(roles=frozenset({"employee", "supervisor"}))
    catalog = Catalog(builtins.registry, policy)
    with pytest.raises(
        DefinitionError, match="unknown role 'risk_officer'; known: employee, supervisor, system"
    ):
        parse_definition(yaml.safe_dump(doc), "leave_request.yaml", catalog.registry, policy)
