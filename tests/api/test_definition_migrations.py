"""Moving open due-diligence reviews to a new definition version through the API: the dry
run, apply with a state map, re-armed timers, the audit trail, revert, and refusals
(SQLite and PostgreSQL)."""

from __future__ import annotations

from datetime import timedelta
from typing import Any

from flask import Flask
from sqlalchemy import func, select

from api.extensions import db
from tests.support.app import Api
from tests.support.definition_versions import cases_in_each_state, publish_versions
from workflow.audit.verification import verify_all
from workflow.records.models import AuditRecord, DefinitionMigration, Timer, WorkflowInstance

URL = "/api/v1/definitions/due_diligence/migrations"
SNAPSHOT = ("definition_version", "state", "sla_due_at", "state_entered_at", "breached", "is_open")


def snapshot(app: Flask, ids: list[int]) -> dict[int, dict[str, Any]]:
    """Each instance's columns a migration touches, and its pending timers."""
    with app.app_context():
        found = {}
        for instance in db.session.execute(
            select(WorkflowInstance).where(WorkflowInstance.id.in_(ids))
        ).scalars():
            pending = db.session.execute(
                select(Timer.id, Timer.state, Timer.trigger, Timer.due_at)
                .where(Timer.instance_id == instance.id, Timer.status == "pending")
                .order_by(Timer.id)
            ).all()
            found[instance.id] = {
                **{key: getattr(instance, key) for key in SNAPSHOT},
                "version": instance.version,
                "timers": [tuple(t) for t in pending],
            }
        db.session.remove()
        return found


def audit_count(app: Flask) -> int:
    with app.app_context():
        count = db.session.execute(select(func.count()).select_from(AuditRecord)).scalar_one()
        db.session.remove()
        return int(count)


def verified(app: Flask) -> bool:
    with app.app_context():
        ok = verify_all(db.session).ok
        db.session.remove()
        return ok


def by_instance(report: dict[str, Any]) -> dict[int, dict[str, Any]]:
    return {item["instance_id"]: item for item in report["instances"]}


def test_a_dry_run_classifies_every_open_review_and_changes_nothing(app: Flask, api: Api) -> None:
    cases = cases_in_each_state(app, api)
    publish_versions(app)
    open_ids = cases["opened"] + cases["collecting"] + cases["under_review"]
    api.token("admin")  # signing in is audited; the dry run itself writes nothing
    before, records = snapshot(app, open_ids), audit_count(app)

    r = api.post("admin", URL, json={"to_version": 4, "dry_run": True})

    assert r.status_code == 200, r.get_json()
    report = r.get_json()
    items = by_instance(report)
    assert sorted(items) == sorted(open_ids)  # the passed review is not open
    for case_id in cases["opened"]:
        assert items[case_id]["status"] == "blocked"
        assert items[case_id]["reason"] == "required_data_missing"
        assert items[case_id]["detail"] == {"fields": ["priority"]}
    for case_id in cases["collecting"]:
        assert (items[case_id]["status"], items[case_id]["to_state"]) == (
            "migratable",
            "collecting",
        )
    for case_id in cases["under_review"]:
        assert (items[case_id]["status"], items[case_id]["reason"]) == ("blocked", "state_removed")
    assert report["counts"] == {
        "migratable": 2,
        "blocked": 4,
        "required_data_missing": 2,
        "state_removed": 2,
    }
    assert report["migration_id"] is None and report["status"] == "planned"
    assert snapshot(app, open_ids) == before and audit_count(app) == records
    # With a state map, the reviews under way go back to collecting in v4.
    mapped = api.post(
        "admin", URL, json={"to_version": 4, "state_map": {"under_review": "collecting"}}
    ).get_json()
    assert mapped["counts"]["migratable"] == 4
    assert {by_instance(mapped)[i]["to_state"] for i in cases["under_review"]} == {"collecting"}


def test_apply_moves_the_migratable_reviews_rearms_timers_and_revert_restores_them(
    app: Flask, api: Api
) -> None:
    cases = cases_in_each_state(app, api)
    publish_versions(app)
    moved = cases["collecting"] + cases["under_review"]
    before = snapshot(app, moved + cases["opened"])

    r = api.post(
        "admin",
        URL,
        json={"to_version": 4, "dry_run": False, "state_map": {"under_review": "collecting"}},
    )

    assert r.status_code == 201, r.get_json()
    report = r.get_json()
    assert report["status"] == "applied" and report["remaining"] == 0
    assert report["counts"]["migratable"] == 4 and report["counts"]["blocked"] == 2
    after = snapshot(app, moved + cases["opened"])
    for case_id in cases["opened"]:  # blocked: untouched
        assert after[case_id] == before[case_id]
    for case_id in cases["collecting"]:
        old, new = before[case_id], after[case_id]
        assert (new["definition_version"], new["state"]) == (4, "collecting")
        assert new["version"] == old["version"] + 1
        # v4's 5-day SLA counts from when the case entered collecting
        assert new["sla_due_at"] == old["state_entered_at"] + timedelta(days=5)
        assert new["state_entered_at"] == old["state_entered_at"]
        (timer,) = new["timers"]
        assert timer[1:3] == ("collecting", "escalate")
        assert timer[3] == old["timers"][0][3] - timedelta(days=5)
        assert timer[0] not in {t[0] for t in old["timers"]}  # a new row; the old one cancelled
    for case_id in cases["under_review"]:
        new = after[case_id]
        assert (new["definition_version"], new["state"]) == (4, "collecting")
        assert new["sla_due_at"] == new["state_entered_at"] + timedelta(days=5)
        (timer,) = new["timers"]
        assert timer[1:] == ("collecting", "escalate", new["state_entered_at"] + timedelta(days=5))

    with app.app_context():
        record = db.session.execute(
            select(AuditRecord).where(
                AuditRecord.instance_id == cases["under_review"][0],
                AuditRecord.kind == "instance.migrated",
            )
        ).scalar_one()
        assert (record.from_state, record.to_state, record.definition_version) == (
            "under_review",
            "collecting",
            4,
        )
        assert record.actor == "admin"
        assert record.payload["from_version"] == 3 and record.payload["to_version"] == 4
        assert len(record.payload["from_hash"]) == 64
        assert record.payload["to_hash"] == report["to_hash"] != record.payload["from_hash"]
        db.session.remove()
    assert verified(app)

    # The moved case follows v4: a second officer decides straight from collecting.
    acted = cases["under_review"][0]
    assert api.act("risk2", acted, "pass").status_code == 200
    detail = api.get("admin", f"{URL}/{report['migration_id']}").get_json()
    assert detail["status"] == "applied" and detail["from_versions"] == [3]
    assert sorted(i["instance_id"] for i in detail["instances"]) == sorted(moved)

    r = api.post("admin", f"{URL}/{report['migration_id']}/revert")

    assert r.status_code == 200, r.get_json()
    reverted = by_instance(r.get_json())
    assert reverted[acted]["reason"] == "changed_since_migration"
    restored = snapshot(app, moved)
    for case_id in moved:
        if case_id == acted:
            assert restored[case_id]["state"] == "passed"
            continue
        assert reverted[case_id]["status"] == "reverted"
        assert {k: v for k, v in restored[case_id].items() if k != "version"} == {
            k: v for k, v in before[case_id].items() if k != "version"
        }
        assert restored[case_id]["version"] == before[case_id]["version"] + 2
    assert verified(app)
    assert api.post("admin", f"{URL}/{report['migration_id']}/revert").status_code == 409
    assert api.get("admin", f"{URL}/{report['migration_id']}").get_json()["status"] == "reverted"


def test_only_administrators_migrate_and_bad_requests_name_the_field(app: Flask, api: Api) -> None:
    cases = cases_in_each_state(app, api)
    publish_versions(app)
    for user in ("risk1", "manager1", "auditor1", "sales1"):
        # refused before the (invalid) body is read
        r = api.post(user, URL, json={"to_version": "x"})
        assert r.status_code == 403, user
        assert api.post(user, URL, json={"to_version": 4}).status_code == 403
    assert api.post(None, URL, json={"to_version": 4}).status_code == 401

    r = api.post("admin", URL, json={"to_version": 9})
    assert r.status_code == 422 and "to_version" in r.get_json()["errors"]
    r = api.post("admin", URL, json={"to_version": 4, "state_map": {"under_review": "gone"}})
    assert r.status_code == 422
    assert "under_review" in r.get_json()["errors"]["state_map"]
    r = api.post("admin", URL, json={"to_version": 4, "state_map": {"under_review": "passed"}})
    assert r.status_code == 422  # a final state would close open cases unaudited
    r = api.post("admin", URL, json={"to_version": 4, "surprise": 1})
    assert r.status_code == 422 and "surprise" in r.get_json()["errors"]
    assert (
        api.post("admin", "/api/v1/definitions/nope/migrations", json={"to_version": 1}).status_code
        == 404
    )
    assert api.get("admin", f"{URL}/999").status_code == 404
    assert api.post("admin", f"{URL}/999/revert").status_code == 404
    assert api.get("risk1", f"{URL}/999").status_code == 403
    assert cases["opened"]


def test_an_unfinished_migration_is_finished_before_another_starts(app: Flask, api: Api) -> None:
    cases = cases_in_each_state(app, api)
    publish_versions(app)
    with app.app_context():  # an apply that died after its first batch left this behind
        db.session.add(
            DefinitionMigration(
                definition="due_diligence",
                from_versions=[],
                to_version=4,
                to_hash="0" * 64,
                state_map={},
                status="running",
                migrated=0,
                blocked=0,
                created_by="admin",
            )
        )
        db.session.commit()
        db.session.remove()
    body = {"to_version": 4, "dry_run": False, "state_map": {"under_review": "collecting"}}
    r = api.post("admin", URL, json=body)
    assert r.status_code == 409 and "unfinished" in r.get_json()["detail"]
    # the same request as the unfinished one finishes it
    r = api.post("admin", URL, json={"to_version": 4, "dry_run": False})
    assert r.status_code == 201 and r.get_json()["status"] == "applied"
    assert {i["instance_id"] for i in r.get_json()["instances"]} == set(
        cases["opened"] + cases["collecting"] + cases["under_review"]
    )
