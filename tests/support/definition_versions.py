"""A newer definition version published to a running app, and due-diligence cases in each
open state to move to it."""

from __future__ import annotations

from pathlib import Path

from flask import Flask

from api import sync_definitions
from api.extensions import db, runtime_of
from tests.support.app import Api, drain
from tests.support.config_changes import approve_shipped
from tests.support.due_diligence import checklist, make_client, open_case

VERSIONS = Path(__file__).parent.parent / "fixtures" / "definition_versions"


def publish_versions(app: Flask, folder: Path = VERSIONS) -> None:
    """Load the definitions of ``folder`` beside the running ones as a restart with the
    newer files does (which proposes them), and approve them as a manager."""
    runtime_of(app).catalog.load_folder(folder)
    with app.app_context():
        sync_definitions(app)
        db.session.remove()
    assert "definition:due_diligence" in approve_shipped(app)


def cases_in_each_state(app: Flask, api: Api) -> dict[str, list[int]]:
    """Two due-diligence cases opened, two collecting, two under review and one passed."""
    found: dict[str, list[int]] = {}
    for state in ("opened", "collecting", "under_review", "passed"):
        for _ in range(1 if state == "passed" else 2):
            case_id = int(open_case(api, make_client(app))["id"])
            if state != "opened":
                assert api.act("risk1", case_id, "start").status_code == 200
            if state in ("under_review", "passed"):
                r = api.act("risk1", case_id, "submit_for_review", checklist=checklist())
                assert r.status_code == 200, r.get_json()
            if state == "passed":
                assert api.act("risk2", case_id, "pass").status_code == 200
            found.setdefault(state, []).append(case_id)
    drain(app)
    return found
