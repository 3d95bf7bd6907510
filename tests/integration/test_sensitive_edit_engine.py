"""The sensitive_edit workflow on SQLite and PostgreSQL: requesting, every segregation
rule, applying atomically, conflict on stale data, expiry, blacklisting, encryption."""

from __future__ import annotations

import json
from datetime import datetime, timedelta
from decimal import Decimal

import pytest
from sqlalchemy import select, text

from tests.support.sensitive_edit import (
    ADMIN,
    ADMIN_RISK,
    AUDITOR,
    AUDITOR_LEGAL,
    LEGAL,
    MANAGER,
    RISK,
    RISK2,
    SALES,
    SALES2,
    SALES_RISK,
    make_client,
)
from workflow.audit.verification import verify_all
from workflow.background import runner as tasks
from workflow.background import scheduler as scheduling
from workflow.engine import firing as engine
from workflow.errors import Duplicate, Forbidden, IllegalState, NotFound, ValidationFailed
from workflow.platform import clock
from workflow.records.models import AuditRecord, WorkflowInstance
from workflow.risk.clients.model import Client, client_stream
from workflow.risk.sensitive_edit import planned_diff, request_sensitive_edit, sensitive_edit_view

NEW_ACCOUNT = "6228480099887766"


def request(db, client, changes, actor=SALES, reason="new contract signed"):  # noqa: ANN001, ANN201
    inst = request_sensitive_edit(db, client.id, changes, reason, actor)
    db.commit()
    return inst


def act(db, inst, trigger, actor, comment=None):  # noqa: ANN001, ANN201
    try:
        return engine.fire(db, inst.id, trigger, actor, comment=comment)
    finally:
        db.commit()


def refused(db, inst, trigger, actor) -> str:  # noqa: ANN001
    with pytest.raises(Forbidden) as info:
        engine.fire(db, inst.id, trigger, actor, comment="no")
    db.rollback()
    return info.value.extra["rule"]


def records(db, stream: str) -> list[AuditRecord]:  # noqa: ANN001
    return list(
        db.execute(
            select(AuditRecord).where(AuditRecord.stream == stream).order_by(AuditRecord.seq)
        ).scalars()
    )


def test_two_distinct_approvers_apply_the_change_and_the_trail_shows_who_approved_what(db):
    client = make_client(db)
    inst = request(db, client, {"credit_limit": 800000, "rating": "A"})
    assert inst.state == "requested"
    # a financial figure is encrypted in the case data, as in the client record
    assert set(inst.data["changes"]["credit_limit"]["after"]) == {"encrypted"}
    assert planned_diff(db, inst.data) == {
        "credit_limit": {"before": 500000.0, "after": 800000.0},
        "rating": {"before": "B", "after": "A"},
    }
    act(db, inst, "approve", RISK)
    assert inst.state == "first_approved"
    act(db, inst, "approve", LEGAL)
    assert inst.state == "applied" and inst.is_open is False
    db.expire_all()
    client = db.get(Client, client.id)
    assert (client.credit_limit, client.rating, client.version) == (Decimal("800000.00"), "A", 2)
    final = records(db, f"workflow:{inst.id}")[-1]
    assert (final.trigger, final.to_state, final.actor) == ("approve", "applied", "legal1")
    assert final.payload["diff"] == {
        "credit_limit": {"before": 500000.0, "after": 800000.0},
        "rating": {"before": "B", "after": "A"},
    }
    assert [(a["by"], a["roles"]) for a in final.payload["approvals"]] == [
        ("risk1", ["risk_officer"]),
        ("legal1", ["legal"]),
    ]
    changed = [
        r for r in records(db, client_stream(client.id)) if r.kind == "client.sensitive_changed"
    ]
    assert len(changed) == 1
    assert changed[0].payload["diff"]["rating"] == {"before": "B", "after": "A"}
    assert changed[0].payload["approvers"] == ["risk1 (risk_officer)", "legal1 (legal)"]
    assert changed[0].payload["reason"] == "new contract signed"
    assert verify_all(db).ok


def test_the_requester_never_approves_or_rejects_even_holding_an_approver_role(db):
    client = make_client(db, owner="sales_risk")
    inst = request(db, client, {"rating": "A"}, actor=SALES_RISK)
    assert refused(db, inst, "approve", SALES_RISK) == "not_initiator"
    assert refused(db, inst, "reject", SALES_RISK) == "not_initiator"
    act(db, inst, "approve", RISK)
    assert refused(db, inst, "approve", SALES_RISK) == "not_initiator"


def test_the_second_approver_is_not_the_first(db):
    inst = request(db, make_client(db), {"rating": "A"})
    act(db, inst, "approve", RISK)
    assert refused(db, inst, "approve", RISK) == "not_actor_of"
    act(db, inst, "approve", RISK2)
    assert inst.state == "applied"


@pytest.mark.parametrize("actor", [SALES, AUDITOR])
def test_an_approval_needs_one_of_the_listed_roles(db, actor):
    inst = request(db, make_client(db), {"rating": "A"})
    assert refused(db, inst, "approve", actor) == "role"
    assert refused(db, inst, "reject", actor) == "role"


@pytest.mark.parametrize("actor", [SALES2, ADMIN])
def test_people_without_an_approver_role_who_may_not_see_the_case_are_refused(db, actor):
    inst = request(db, make_client(db), {"rating": "A"})
    for trigger in ("approve", "reject"):
        # refused as "role" (403), or as not found (404) where the engine hides the case
        with pytest.raises((Forbidden, NotFound)) as info:
            engine.fire(db, inst.id, trigger, actor, comment="no")
        db.rollback()
        assert info.value.extra.get("rule", "role") == "role"
    assert (db.get(WorkflowInstance, inst.id).state, db.get(WorkflowInstance, inst.id).version) == (
        "requested",
        1,
    )


@pytest.mark.parametrize("actor", [ADMIN_RISK, AUDITOR_LEGAL])
def test_an_auditor_or_admin_never_approves_even_with_an_approver_role(db, actor):
    inst = request(db, make_client(db), {"rating": "A"})
    assert refused(db, inst, "approve", actor) == "no_roles"
    act(db, inst, "approve", MANAGER)
    assert refused(db, inst, "approve", actor) == "no_roles"
    assert refused(db, inst, "reject", actor) == "no_roles"


def test_only_the_requester_cancels_and_nobody_but_the_system_expires(db):
    inst = request(db, make_client(db), {"rating": "A"})
    assert refused(db, inst, "cancel", RISK) == "initiator_only"
    assert refused(db, inst, "expire", MANAGER) == "role"
    act(db, inst, "approve", RISK)
    act(db, inst, "cancel", SALES)
    assert inst.state == "cancelled"
    assert db.get(Client, inst.subject_id).rating == "B"


def test_either_approver_may_reject_with_a_reason_and_nothing_changes(db):
    client = make_client(db)
    inst = request(db, client, {"rating": "A"})
    act(db, inst, "approve", RISK)
    with pytest.raises(ValidationFailed):
        engine.fire(db, inst.id, "reject", RISK)
    db.rollback()
    act(db, inst, "reject", RISK, comment="the rating model says B")
    assert inst.state == "rejected"
    with pytest.raises(IllegalState):
        engine.fire(db, inst.id, "approve", LEGAL)
    db.rollback()
    db.expire_all()
    assert (db.get(Client, client.id).rating, db.get(Client, client.id).version) == ("B", 1)


def test_stale_data_at_apply_time_ends_in_conflict_and_changes_nothing(db):
    client = make_client(db)
    inst = request(db, client, {"credit_limit": 900000, "legal_representative": "李娜"})
    act(db, inst, "approve", RISK)
    # meanwhile the credit limit moved (e.g. set by a rescreening)
    db.get(Client, client.id).credit_limit = Decimal("600000.00")
    db.commit()
    act(db, inst, "approve", LEGAL)
    assert inst.state == "conflict" and inst.is_open is False
    assert inst.data["conflict_fields"] == ["credit_limit"]
    db.expire_all()
    client = db.get(Client, client.id)
    assert (client.credit_limit, client.legal_representative) == (Decimal("600000.00"), "张伟")
    assert not [
        r for r in records(db, client_stream(client.id)) if r.kind == "client.sensitive_changed"
    ]
    assert records(db, f"workflow:{inst.id}")[-1].payload["conflict_fields"] == ["credit_limit"]


def _expire_due(rt, db, at: datetime) -> None:  # noqa: ANN001
    db.rollback()  # release SQLite's write lock before the scheduler and the worker run
    clock.freeze(at)
    scheduling.tick(rt.session_factory, rt.catalog.registry, rt.settings)
    tasks.drain(rt.session_factory, rt.catalog.registry)


def test_a_request_expires_72_hours_after_it_was_filed_even_after_one_approval(rt, db):
    t0 = datetime(2026, 11, 23, 9, 0)
    clock.freeze(t0)
    first, second = (
        request(db, make_client(db), {"rating": "A"}),
        request(db, make_client(db), {"rating": "C"}),
    )
    clock.freeze(t0 + timedelta(hours=70))
    act(db, first, "approve", RISK)  # the deadline does not restart with the first approval
    _expire_due(rt, db, t0 + timedelta(hours=71, minutes=59))
    db.expire_all()
    assert (
        db.get(WorkflowInstance, first.id).state,
        db.get(WorkflowInstance, second.id).state,
    ) == ("first_approved", "requested")
    _expire_due(rt, db, t0 + timedelta(hours=72, seconds=1))
    db.expire_all()
    assert (
        db.get(WorkflowInstance, first.id).state,
        db.get(WorkflowInstance, second.id).state,
    ) == ("expired", "expired")
    last = records(db, f"workflow:{first.id}")[-1]
    assert (last.trigger, last.actor) == ("expire", "system:timer")
    with pytest.raises(IllegalState):
        engine.fire(db, first.id, "approve", LEGAL)
    db.rollback()
    assert db.get(Client, first.subject_id).rating == "B"


def test_a_decided_request_does_not_expire_later(rt, db):
    t0 = datetime(2026, 11, 23, 9, 0)
    clock.freeze(t0)
    inst = request(db, make_client(db), {"rating": "A"})
    act(db, inst, "approve", RISK)
    act(db, inst, "approve", MANAGER)
    _expire_due(rt, db, t0 + timedelta(hours=100))
    db.expire_all()
    assert db.get(WorkflowInstance, inst.id).state == "applied"


def test_blacklisting_an_active_client_also_suspends_it(db):
    active, prospect = make_client(db), make_client(db, status="prospect")
    for client in (active, prospect):
        inst = request(db, client, {"blacklisted": True}, reason="listed as a dishonest debtor")
        act(db, inst, "approve", RISK)
        act(db, inst, "approve", LEGAL)
        assert inst.state == "applied"
    db.expire_all()
    active, prospect = db.get(Client, active.id), db.get(Client, prospect.id)
    assert (active.blacklisted, active.status, active.status_before_suspension) == (
        True,
        "suspended",
        "active",
    )
    assert (prospect.blacklisted, prospect.status) == (True, "prospect")
    kinds = [r.kind for r in records(db, client_stream(active.id))]
    assert kinds[-2:] == ["client.sensitive_changed", "client.suspended"]


def test_an_applied_bank_account_is_stored_encrypted_and_never_in_clear_in_the_case(db):
    client = make_client(db)
    inst = request(db, client, {"bank_account": "6228 4800 9988 7766"})
    act(db, inst, "approve", RISK)
    act(db, inst, "approve", MANAGER)
    db.expire_all()
    assert db.get(Client, client.id).bank_account == NEW_ACCOUNT
    raw = db.execute(
        text("SELECT bank_account FROM clients WHERE id = :id"), {"id": client.id}
    ).scalar_one()
    assert raw.startswith("gAAAA") and NEW_ACCOUNT not in raw
    case = db.execute(
        text("SELECT data FROM workflow_instances WHERE id = :id"), {"id": inst.id}
    ).scalar_one()
    trail = db.execute(text("SELECT payload FROM audit_records")).scalars().all()
    for stored in [case, *trail]:
        dumped = stored if isinstance(stored, str) else json.dumps(stored)
        assert NEW_ACCOUNT not in dumped and "6222020012345678" not in dumped
    final = records(db, f"workflow:{inst.id}")[-1]
    assert final.payload["diff"]["bank_account"] == {
        "before": "**** **** **** 5678",
        "after": "**** **** **** 7766",
    }


def test_the_case_shows_before_and_after_masked_by_role(db):
    client = make_client(db)
    inst = request(db, client, {"bank_account": NEW_ACCOUNT, "credit_limit": 700000, "rating": "A"})
    sales_view = sensitive_edit_view(db, inst, SALES)["changes"]
    risk_view = sensitive_edit_view(db, inst, RISK)["changes"]
    assert sales_view == {
        "bank_account": {"before": "**** **** **** 5678", "after": "**** **** **** 7766"},
        "credit_limit": {"before": None, "after": None},
        "rating": {"before": "B", "after": "A"},
    }
    assert risk_view == {
        "bank_account": {"before": "**** **** **** 5678", "after": "**** **** **** 7766"},
        "credit_limit": {"before": 500000.0, "after": 700000.0},
        "rating": {"before": "B", "after": "A"},
    }
    assert sensitive_edit_view(db, inst, ADMIN)["changes"] == sales_view


def test_a_second_open_request_on_the_same_field_is_refused(db):
    client = make_client(db)
    first = request(db, client, {"rating": "A", "credit_limit": 1})
    with pytest.raises(Duplicate) as info:
        request(db, client, {"credit_limit": 2}, actor=RISK)
    db.rollback()
    assert info.value.extra["existing_id"] == first.id
    request(db, client, {"bank_account": NEW_ACCOUNT})  # another field: fine
    request(db, make_client(db), {"rating": "A"})  # another client: fine
    act(db, first, "cancel", SALES)
    assert request(db, client, {"credit_limit": 2}).state == "requested"


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({}, "changes"),
        ({"nickname": "x"}, "nickname"),
        ({"industry": "mining"}, "industry"),
        ({"rating": "Z"}, "rating"),
        ({"credit_limit": -5}, "credit_limit"),
        ({"bank_account": "12"}, "bank_account"),
        ({"blacklisted": "yes"}, "blacklisted"),
        ({"rating": "B"}, "rating"),  # the value it already has
    ],
)
def test_invalid_changes_are_refused_with_the_field_named(db, changes, field):
    client = make_client(db)
    with pytest.raises(ValidationFailed) as info:
        request(db, client, changes)
    db.rollback()
    assert field in info.value.extra["errors"]
    assert not db.execute(select(WorkflowInstance)).first()


def test_who_may_file_a_request(db):
    client = make_client(db)
    for actor in (AUDITOR, ADMIN):
        with pytest.raises(Forbidden) as info:
            request(db, client, {"rating": "A"}, actor=actor)
        db.rollback()
        assert info.value.extra["rule"] == "role"
    with pytest.raises(NotFound):  # another owner's client: as if there were none
        request(db, client, {"rating": "A"}, actor=SALES2)
    db.rollback()
    with pytest.raises(ValidationFailed):
        request(db, client, {"rating": "A"}, reason="  ")
    db.rollback()
    assert request(db, client, {"rating": "A"}, actor=RISK).created_by == "risk1"


def test_the_demo_change_request_waits_for_two_approvers(db):
    from workflow.risk.sensitive_edit import add_demo_change_request

    add_demo_change_request(db)  # no client yet: nothing to do
    client = make_client(db)
    add_demo_change_request(db)
    db.commit()
    inst = db.execute(select(WorkflowInstance)).scalar_one()
    assert (inst.state, inst.subject_id, list(inst.data["changes"])) == (
        "requested",
        client.id,
        ["bank_account"],
    )
    assert engine.available_actions(db, inst, RISK) == ["approve", "reject"]
