"""A deployment that ships a newer configuration file (issue 18): the first start seeds it,
a later one only proposes it as a ``config_change`` made by ``system:deployment``, a
manager approves it (the maker cannot), and ``rule_set.loaded`` always names the active
version screening uses."""

from __future__ import annotations

import os
import time
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import select

from api.extensions import db, runtime_of
from tests.support.app import FIXTURES, Api
from tests.support.config_changes import (
    SOE_75,
    active_content,
    approve,
    close,
    drafted_and_backtested,
    open_app,
    restart,
    shipped_changes,
    shipped_v3,
    soe_threshold_70,
)
from tests.support.due_diligence import make_client, open_case
from tests.support.onboarding import admit, new_client
from workflow.engine import firing as engine
from workflow.engine import migration
from workflow.errors import ConfigurationError, Forbidden, ValidationFailed
from workflow.records.config_versions import CHECK_SECONDS, ConfigVersion
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord
from workflow.risk.governance.active import active_rule_set
from workflow.risk.governance.seeding import SHIPPER


def audit_payloads(app: Flask, kind: str) -> list[dict]:
    with app.app_context():
        rows = db.session.execute(
            select(AuditRecord.payload).where(AuditRecord.kind == kind).order_by(AuditRecord.id)
        ).scalars()
        found = [dict(p) for p in rows]
        db.session.remove()
    return found


def stored_rule_sets(app: Flask) -> list[tuple[int, str, str]]:
    with app.app_context():
        rows = db.session.execute(
            select(ConfigVersion.version, ConfigVersion.status, ConfigVersion.content_hash)
            .where(ConfigVersion.kind == "rule_set")
            .order_by(ConfigVersion.version)
        ).all()
        db.session.remove()
    return [tuple(r) for r in rows]


def test_a_newer_shipped_rule_set_waits_for_a_manager(
    app: Flask, api: Api, db_url: str, tmp_path: Path
) -> None:
    first = active_content(api)
    assert first["version"] == 2 and first["created_by"] == "system:config"
    assert [p["kind"] for p in audit_payloads(app, "config.seeded")].count("rule_set") == 1
    rules = shipped_v3(tmp_path)

    restart(db_url, rules)
    [change] = shipped_changes(app, api, "rule_set")
    data = change["data"]
    assert change["created_by"] == SHIPPER.username == "system:deployment"
    assert change["state"] == "awaiting_approval", change  # backtested like any draft
    assert data["version"] == 3 and data["base_version"] == 2 and data["shipped_from"] == str(rules)
    assert (
        "+    when: \"facts.ownership_type == 'central_soe' && facts.state_ownership_pct > 70.0\""
        in (data["diff"])
    )
    assert data["backtest"]["report"]["kind"] == "rule_set"
    # nothing went live: version 2 still rates, nothing activated
    assert stored_rule_sets(app) == [(2, "active", first["content_hash"])]
    assert audit_payloads(app, "config.activated") == []
    [proposed] = audit_payloads(app, "config.proposed")
    assert (
        proposed["change_id"] == change["id"] and proposed["content_hash"] == data["content_hash"]
    )
    assert proposed["active_version"] == 2 and proposed["source"] == str(rules)
    assert admit(app, api, new_client(api, 1, **SOE_75))["data"]["screening"]["rating"] != "S"

    # the same file at the next start-up: nothing new
    restart(db_url, rules)
    assert [c["id"] for c in shipped_changes(app, api, "rule_set")] == [change["id"]]
    assert len(audit_payloads(app, "config.proposed")) == 1
    assert stored_rule_sets(app)[-1][:2] == (2, "active")

    # the maker (the deployment) may not approve, even with a manager's role
    with app.app_context(), pytest.raises(Forbidden) as refused:
        engine.fire(
            db.session,
            change["id"],
            "approve",
            Actor(SHIPPER.username, frozenset({"manager"})),
            {"content_hash": data["content_hash"]},
        )
    assert refused.value.extra["rule"] == "not_initiator"
    with app.app_context():
        db.session.rollback()
    assert approve(api, change, user="risk1").status_code == 403  # not a manager

    done = approve(api, change)
    assert done.status_code == 200, done.get_json()
    assert stored_rule_sets(app) == [
        (2, "superseded", first["content_hash"]),
        (3, "active", data["content_hash"]),
    ]
    [activated] = audit_payloads(app, "config.activated")
    assert activated["maker"] == "system:deployment" and activated["checker"] == "manager1"
    assert activated["new_hash"] == data["content_hash"] and activated["shipped_from"] == str(rules)
    after = admit(app, api, new_client(api, 2, **SOE_75))
    assert after["data"]["screening"]["rating"] == "S"

    # rule_set.loaded names the active version, in the activating transaction
    loads = audit_payloads(app, "rule_set.loaded")
    assert [(p["version"], p["content_hash"]) for p in loads] == [
        (2, first["content_hash"]),
        (3, data["content_hash"]),
    ]
    with app.app_context():
        assert loads[-1]["text_hash"] == active_rule_set(db.session).content_hash
        db.session.remove()

    # a start with the approved file again: stored with the same hash, nothing new
    restart(db_url, rules)
    assert len(shipped_changes(app, api, "rule_set")) == 1
    assert len(audit_payloads(app, "rule_set.loaded")) == 2
    report = api.get("auditor1", "/api/v1/audit/verify").get_json()
    assert report["ok"] is True, report


def test_a_shipped_proposal_never_undoes_a_change_approved_since(
    app: Flask, api: Api, db_url: str, tmp_path: Path
) -> None:
    rules = shipped_v3(tmp_path)
    restart(db_url, rules)
    [shipped] = shipped_changes(app, api, "rule_set")
    content = active_content(api)["content"]
    drafted = drafted_and_backtested(
        app, api, "rule_set", content.replace("cap: 50000000", "cap: 40000000")
    )
    assert approve(api, drafted).status_code == 200  # version 3, from the risk officer
    refused = approve(api, shipped)
    assert refused.status_code == 409, refused.get_json()
    assert "rule_set is at version 3 now" in refused.get_json()["detail"]
    assert stored_rule_sets(app)[-1][:2] == (3, "active")
    assert active_content(api)["content_hash"] == drafted["data"]["content_hash"]


def test_a_proposed_file_edited_without_a_new_version_stops_start_up(
    app: Flask, api: Api, db_url: str, tmp_path: Path
) -> None:
    rules = shipped_v3(tmp_path)
    restart(db_url, rules)
    rules.write_text(rules.read_text("utf-8").replace("cap: 50000000", "cap: 1"), "utf-8")
    with pytest.raises(ConfigurationError) as refused:
        open_app(db_url, RISKLOOP_RULE_SET=str(rules))
    assert "version 3" in str(refused.value) and "raise `version`" in str(refused.value)
    assert len(shipped_changes(app, api, "rule_set")) == 1


def test_rule_set_loaded_follows_a_governed_change_across_restarts(
    app: Flask, api: Api, db_url: str
) -> None:
    content = active_content(api)["content"]
    change = drafted_and_backtested(app, api, "rule_set", soe_threshold_70(content))
    assert approve(api, change).status_code == 200
    close(open_app(db_url))  # the shipped file (version 2) is older: the database holds 3
    loads = audit_payloads(app, "rule_set.loaded")
    assert [p["version"] for p in loads] == [2, 3]
    assert loads[-1]["content_hash"] == change["data"]["content_hash"]
    assert loads[-1]["source"] == "config_versions:rule_set@3"
    [activated] = audit_payloads(app, "config.activated")
    assert activated["new_hash"] == loads[-1]["content_hash"]
    assert activated["rule_set_loaded_seq"] == 2
    assert audit_payloads(app, "config.proposed") == []


def due_diligence_v4(tmp_path: Path) -> Path:
    """A folder with the shipped due-diligence definition as version 4 (another title)."""
    text = (Path(__file__).parents[2] / "definitions" / "due_diligence.yaml").read_text("utf-8")
    assert "\nversion: 3\n" in text and "en: Due-diligence review}" in text
    folder = tmp_path / "release"
    folder.mkdir()
    (folder / "due_diligence.yaml").write_text(
        text.replace("\nversion: 3\n", "\nversion: 4\n").replace(
            "en: Due-diligence review}", "en: Due-diligence review (2027)}"
        ),
        "utf-8",
    )
    return folder


def test_a_newer_shipped_definition_waits_for_a_manager(
    app: Flask, api: Api, db_url: str, tmp_path: Path
) -> None:
    release = due_diligence_v4(tmp_path)
    extra = {"RISKLOOP_EXTRA_DEFINITIONS": f"{FIXTURES}{os.pathsep}{release}"}
    other = open_app(db_url, **extra)  # a process started with the new file
    with other.app_context():
        catalog = runtime_of(other).catalog
        assert catalog.get("due_diligence").version == 3 and catalog.pending("due_diligence")
    close(open_app(db_url, **extra))  # and again: nothing new

    [change] = shipped_changes(app, api, "definition:due_diligence")
    assert change["created_by"] == "system:deployment"
    assert change["state"] == "awaiting_approval", change
    assert change["data"]["version"] == 4 and change["data"]["shipped_from"].endswith(
        "due_diligence.yaml"
    )
    assert "migration" in change["data"]["backtest"]["report"]
    assert shipped_changes(app, api, "dd_checklist") == []  # its settings did not move
    assert [
        p["version"]
        for p in audit_payloads(app, "definition.loaded")
        if p["name"] == "due_diligence"
    ] == [3]
    assert open_case(api, make_client(app))["definition_version"] == 3
    refused = api.post(
        "admin",
        "/api/v1/definitions/due_diligence/migrations",
        json={"to_version": 4, "dry_run": True},
    )
    assert refused.status_code == 422
    assert "has no version 4" in refused.get_json()["detail"]  # this process has no file
    other_api = Api(other.test_client())
    listed = other_api.get("risk1", "/api/v1/definitions/due_diligence").get_json()
    assert (listed["version"], listed["versions"]) == (3, [3]), listed
    with other.app_context():
        with pytest.raises(ValidationFailed) as waiting:
            migration.plan(db.session, "due_diligence", 4)
        assert "waits for a manager's approval" in str(waiting.value)
        db.session.remove()

    assert approve(api, change, user="admin").status_code == 404  # managers approve
    done = approve(api, change)
    assert done.status_code == 200, done.get_json()
    assert open_case(api, make_client(app))["definition_version"] == 4
    loaded = [p for p in audit_payloads(app, "definition.loaded") if p["name"] == "due_diligence"]
    assert [p["version"] for p in loaded] == [3, 4]
    assert loaded[-1]["content_hash"] == change["data"]["content_hash"]

    # the process that held the file back starts new cases on it within seconds
    deadline = time.monotonic() + CHECK_SECONDS + 2.0
    with other.app_context():
        while True:
            db.session.execute(select(1))
            if runtime_of(other).catalog.get("due_diligence").version == 4:
                break
            assert time.monotonic() < deadline, "the other process kept version 3"
            db.session.remove()
            time.sleep(0.2)
        assert runtime_of(other).catalog.pending("due_diligence") is None
        db.session.remove()
    close(other)
    close(open_app(db_url, **extra))  # a start with the approved file: stored, nothing new
    assert len(shipped_changes(app, api, "definition:due_diligence")) == 1
    report = api.get("auditor1", "/api/v1/audit/verify").get_json()
    assert report["ok"] is True, report
