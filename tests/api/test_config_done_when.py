"""Issue 18's done-when through the API, on SQLite and PostgreSQL: a risk officer moves the
central-SOE threshold from 80 % to 70 % under four eyes and the next admission is rated by
it without a restart; an administrator publishes a due-diligence version with a shorter
SLA as ``definition:due_diligence``, a manager approves it, the open reviews are moved to it
after a dry run, and the audit trail verifies. Then the refusals of the new kind."""

from __future__ import annotations

import time
from typing import Any

from flask import Flask
from sqlalchemy import select

from api.extensions import db, runtime_of
from tests.support.app import Api, drain
from tests.support.config_changes import (
    SOE_75,
    active_content,
    approve,
    close,
    draft,
    drafted_and_backtested,
    open_app,
    soe_threshold_70,
)
from tests.support.due_diligence import make_client, open_case
from tests.support.onboarding import admit, new_client
from workflow.engine.catalog import CHECK_SECONDS
from workflow.records.models import AuditRecord, DefinitionRecord, WorkflowInstance
from workflow.risk.clients.model import Client

KIND = "definition:due_diligence"
MIGRATIONS = "/api/v1/definitions/due_diligence/migrations"
COLLECTING_10D = "collecting: {label: {zh-CN: 资料收集中, en: Collecting}, sla: 10d}"
COLLECTING_5D = "collecting: {label: {zh-CN: 资料收集中, en: Collecting}, sla: 5d}"


def shorter_sla(content: str) -> str:
    assert COLLECTING_10D in content
    return content.replace(COLLECTING_10D, COLLECTING_5D)


def definition_draft(app: Flask, api: Api, content: str) -> dict[str, Any]:
    """A draft of due_diligence filed by the administrator and backtested."""
    r = draft(api, KIND, content, user="admin", reason="collect within five days")
    assert r.status_code == 201, r.get_json()
    drain(app)
    change = api.get("admin", f"/api/v1/workflows/{r.get_json()['id']}").get_json()
    assert change["state"] == "awaiting_approval", change
    return change


def instance(app: Flask, instance_id: int) -> WorkflowInstance:
    with app.app_context():
        found = db.session.get(WorkflowInstance, instance_id)
        assert found is not None
        db.session.expunge(found)
        db.session.remove()
        return found


def active_soe(app: Flask) -> int:
    """An active client in the archive: a central SOE with 75 % state ownership."""
    client_id = make_client(app)
    with app.app_context():
        client = db.session.get(Client, client_id)
        assert client is not None
        for column, value in SOE_75.items():
            setattr(client, column, value)
        db.session.commit()
        db.session.remove()
    return client_id


def test_done_when(app: Flask, api: Api, db_url: str) -> None:
    # 1. the central-SOE threshold, 80 % → 70 %, by a risk officer
    before = admit(app, api, new_client(api, 1, **SOE_75))
    assert before["data"]["screening"]["rating"] != "S"
    soe = active_soe(app)
    rules = active_content(api)
    change = drafted_and_backtested(app, api, "rule_set", soe_threshold_70(rules["content"]))
    report = change["data"]["backtest"]["report"]
    movers = {m["client_id"]: m for m in report["movers"]}
    assert soe in movers, report  # which clients would change rating: the 75 % SOE, to S
    assert movers[soe]["from"]["rating"] != "S" and movers[soe]["to"]["rating"] == "S"
    assert approve(api, change, user="risk1").status_code == 403  # the maker
    assert approve(api, change).status_code == 200
    after = admit(app, api, new_client(api, 2, **SOE_75))
    assert after["data"]["screening"]["rating"] == "S"  # no restart

    # 2. a new due-diligence version by an administrator, approved by a manager
    opened = int(open_case(api, make_client(app))["id"])
    collecting = int(open_case(api, make_client(app))["id"])
    assert api.act("risk1", collecting, "start").status_code == 200
    drain(app)
    other = open_app(db_url)  # another process, told nothing
    active = api.get("admin", f"/api/v1/config/{KIND}").get_json()
    listed = {k["kind"] for k in api.get("manager1", "/api/v1/config").get_json()}
    assert {KIND, "definition:client_onboarding", "rule_set"} <= listed
    change = definition_draft(app, api, shorter_sla(active["content"]))
    version = change["data"]["version"]
    assert version == active["version"] + 1
    assert (
        "+  collecting: {label: {zh-CN: 资料收集中, en: Collecting}, sla: 5d}"
        in (change["data"]["diff"])
    )
    backtest = change["data"]["backtest"]["report"]
    assert backtest["states"]["sla_changed"] == {
        "collecting": {"from": 10 * 86400, "to": 5 * 86400}
    }
    plan = backtest["migration"]
    assert plan["to_version"] == version and plan["to_hash"] == change["data"]["content_hash"]
    assert plan["counts"]["migratable"] >= 2
    assert {opened, collecting} <= {i["instance_id"] for i in plan["instances"]}
    assert approve(api, change, user="admin").status_code == 403  # the maker
    done = approve(api, change)
    assert done.status_code == 200, done.get_json()

    with app.app_context():
        stored = db.session.execute(
            select(DefinitionRecord).where(
                DefinitionRecord.name == "due_diligence", DefinitionRecord.version == version
            )
        ).scalar_one()
        assert stored.content_hash == change["data"]["content_hash"]
        activated = db.session.execute(
            select(AuditRecord.payload).where(AuditRecord.kind == "config.activated")
        ).scalars()
        record = [p for p in activated if p["kind"] == KIND][0]
        db.session.remove()
    assert (record["maker"], record["checker"]) == ("admin", "manager1")
    assert record["definition_version"] == version
    newer = int(open_case(api, make_client(app))["id"])
    assert instance(app, newer).definition_version == version  # new reviews start on it

    # the other process loads the version on its next check and acts on its instances
    deadline = time.monotonic() + CHECK_SECONDS + 2.0
    with other.app_context():
        catalog = runtime_of(other).catalog
        while catalog.get("due_diligence").version != version:
            assert time.monotonic() < deadline, "the other process never loaded the version"
            time.sleep(0.2)
            db.session.execute(select(1))
            db.session.remove()
    close(other)

    # 3. the open reviews: dry run, then apply
    dry = api.post("admin", MIGRATIONS, json={"to_version": version, "dry_run": True})
    assert dry.status_code == 200, dry.get_json()
    assert dry.get_json()["counts"] == plan["counts"]  # as the backtest said
    assert instance(app, collecting).definition_version == active["version"]
    applied = api.post("admin", MIGRATIONS, json={"to_version": version, "dry_run": False})
    assert applied.status_code == 201, applied.get_json()
    assert applied.get_json()["status"] == "applied" and applied.get_json()["remaining"] == 0
    moved = instance(app, collecting)
    assert moved.definition_version == version
    assert moved.sla_due_at is not None and moved.state_entered_at is not None
    assert (moved.sla_due_at - moved.state_entered_at).days == 5
    assert instance(app, opened).definition_version == version
    assert api.act("risk2", opened, "start").status_code == 200  # acted on in the new version

    verified = api.get("auditor1", "/api/v1/audit/verify").get_json()
    assert verified["ok"] is True, verified


def test_refusals_of_the_definition_kind(app: Flask, api: Api) -> None:
    content = api.get("admin", f"/api/v1/config/{KIND}").get_json()["content"]

    # who drafts what: administrators the definitions, risk officers the rest
    assert draft(api, KIND, shorter_sla(content)).status_code == 403
    rules = active_content(api)["content"]
    assert draft(api, "rule_set", soe_threshold_70(rules), user="admin").status_code == 403
    assert draft(api, "definition:no_such", content, user="admin").status_code == 404
    # the workflow that reviews configuration changes is not itself a configuration kind
    assert draft(api, "definition:config_change", content, user="admin").status_code == 404
    kinds = {k["kind"] for k in api.get("admin", "/api/v1/config").get_json()}
    assert KIND in kinds and "definition:config_change" not in kinds

    # content the engine refuses: every problem with file, key and fix
    for broken, key in (
        ("states: [unclosed", "(document)"),
        (content.replace("name: due_diligence", "name: client_onboarding"), "name"),
        (content.replace("initial: opened", "initial: nowhere"), "initial"),
        (content.replace("guards: [not_analyst]", "guards: [no_such_guard]", 1), "transitions[3]"),
    ):
        r = draft(api, KIND, broken, user="admin")
        assert r.status_code == 422, r.get_json()
        problems = r.get_json()["errors"]["content"]
        assert problems and problems[0]["key"].startswith(key), problems
        assert all(p["file"] and p["message"] for p in problems)
    unchanged = draft(api, KIND, content, user="admin")
    assert unchanged.status_code == 422, unchanged.get_json()

    # two drafts against the same version: the second is stale once the first is active
    first = definition_draft(app, api, shorter_sla(content))
    second = definition_draft(app, api, content.replace("sla: 72h", "sla: 48h", 1))
    assert second["data"]["version"] == first["data"]["version"]
    assert approve(api, first, user="admin").status_code == 403  # the maker
    assert approve(api, first).status_code == 200
    stale = approve(api, second)
    assert stale.status_code == 409, stale.get_json()
    with app.app_context():
        versions = db.session.execute(
            select(DefinitionRecord.version).where(DefinitionRecord.name == "due_diligence")
        ).scalars()
        assert list(versions).count(first["data"]["version"]) == 1
        db.session.remove()
    # the hash approved must be the content's
    third = definition_draft(app, api, content.replace("sla: 48h", "sla: 24h", 1))
    wrong = approve(api, third, content_hash="0" * 64)
    assert wrong.status_code == 409, wrong.get_json()
