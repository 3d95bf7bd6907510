"""A case moved to a new definition version and back shows both moves on its timeline, worded in
the reader's language (SQLite and PostgreSQL)."""

from __future__ import annotations

from flask import Flask

from tests.support.app import Api
from tests.support.definition_versions import cases_in_each_state, publish_versions

URL = "/api/v1/definitions/due_diligence/migrations"


def test_the_timeline_names_the_migration_and_its_revert(
    console_factory, app: Flask, api: Api
) -> None:
    case_id = cases_in_each_state(app, api)["collecting"][0]
    publish_versions(app)
    applied = api.post("admin", URL, json={"to_version": 4, "dry_run": False}).get_json()
    assert api.post("admin", f"{URL}/{applied['migration_id']}/revert").status_code == 200

    console = console_factory("risk1")
    page = console.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "迁移至新流程版本" in page and "撤销流程版本迁移" in page

    console.post(
        "/language", {"lang": "en", "next": f"/cases/{case_id}"}, token_from=f"/cases/{case_id}"
    )
    page = console.get(f"/cases/{case_id}").get_data(as_text=True)
    assert "moved to a new workflow version" in page
    assert "workflow version migration reverted" in page
