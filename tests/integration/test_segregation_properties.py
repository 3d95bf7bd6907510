"""No sequence of actions by any users applies a sensitive edit without two distinct
approvals by people other than the requester, none of them an auditor or admin
(hypothesis, stateful, on SQLite and PostgreSQL)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)
from sqlalchemy import select

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
from workflow.engine import firing as engine
from workflow.errors import RiskloopError
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance
from workflow.records.trail import instance_stream
from workflow.risk.clients.model import Client
from workflow.risk.sensitive_edit import planned_diff, request_sensitive_edit

PEOPLE = [
    SALES,
    SALES2,
    RISK,
    RISK2,
    LEGAL,
    MANAGER,
    AUDITOR,
    ADMIN,
    ADMIN_RISK,
    AUDITOR_LEGAL,
    SALES_RISK,
]
# Approvers come up more often so that runs often get as far as an applied change.
EVERYONE = [*PEOPLE, RISK, RISK2, LEGAL, MANAGER, Actor.system("timer")]
TRIGGERS = ["approve"] * 6 + ["reject", "cancel", "expire"]
CHANGES = st.one_of(
    st.fixed_dictionaries({"rating": st.sampled_from(["S", "A", "C", "D"])}),
    st.fixed_dictionaries({"credit_limit": st.integers(0, 10**9)}),
    st.fixed_dictionaries(
        {
            "rating": st.sampled_from(["A", "C"]),
            "legal_representative": st.sampled_from(["李娜", "王强"]),
        }
    ),
)
FORBIDDEN_ROLES = {"auditor", "admin"}


def run_machine(rt, max_examples: int) -> set[str]:  # noqa: ANN001
    """Runs the machine; returns the states the cases reached (to show the run got far)."""
    reached: set[str] = set()

    class DualApproval(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.s = rt.session_factory()
            # owned by sales1 and by sales_risk (a requester who also holds an approver role)
            self.clients = [make_client(self.s).id, make_client(self.s, owner="sales_risk").id]
            self.cases: list[int] = []
            self.expected = {c: self.values(c) for c in self.clients}

        def values(self, client_id: int) -> dict[str, object]:
            client = self.s.get(Client, client_id)
            return {
                "rating": client.rating,
                "credit_limit": client.credit_limit,
                "legal_representative": client.legal_representative,
            }

        @initialize(changes=CHANGES)
        def first_request(self, changes: dict) -> None:
            self.file_request(SALES, 0, changes)

        @rule(actor=st.sampled_from(PEOPLE), which=st.integers(0, 1), changes=CHANGES)
        def file_request(self, actor: Actor, which: int, changes: dict) -> None:
            try:
                inst = request_sensitive_edit(self.s, self.clients[which], changes, "why", actor)
                self.s.commit()
                self.cases.append(inst.id)
            except RiskloopError:
                self.s.rollback()

        @precondition(lambda self: bool(self.cases))
        @rule(
            data=st.data(),
            actor=st.sampled_from(EVERYONE),
            trigger=st.sampled_from(TRIGGERS),
            comment=st.sampled_from([None, "reason"]),
            stale=st.sampled_from([False, False, False, True]),
        )
        def act(
            self, data: st.DataObject, actor: Actor, trigger: str, comment: str | None, stale: bool
        ) -> None:
            case = data.draw(st.sampled_from(self.cases[-3:]))
            inst = self.s.get(WorkflowInstance, case)
            version = inst.version - 1 if stale else None
            self.s.rollback()
            self.act_on(case, actor, trigger, comment, version)

        def act_on(
            self, case: int, actor: Actor, trigger: str, comment: str | None, version: int | None
        ) -> None:
            try:
                result = engine.fire(
                    self.s, case, trigger, actor, comment=comment, expected_version=version
                )
                self.s.commit()
            except RiskloopError:
                self.s.rollback()
                return
            reached.add(result.to_state)
            if result.to_state == "applied":
                inst = self.s.get(WorkflowInstance, case)
                for field, change in planned_diff(self.s, inst.data).items():
                    self.expected[inst.subject_id][field] = change["after"]

        @precondition(lambda self: bool(self.cases))
        @rule(approver=st.sampled_from([RISK, RISK2, LEGAL, MANAGER]))
        def approve_latest(self, approver: Actor) -> None:
            """An eligible approver approves the newest case at its current version, so that
            runs regularly reach a second approval whatever the other rules drew."""
            self.act_on(self.cases[-1], approver, "approve", None, None)

        @rule(which=st.integers(0, 1), rating=st.sampled_from(["A", "B", "C"]))
        def rescreen(self, which: int, rating: str) -> None:
            """Someone outside the workflow moves a value (stale data for open requests)."""
            client = self.s.get(Client, self.clients[which])
            client.rating = rating
            self.s.commit()
            self.expected[client.id]["rating"] = rating

        @invariant()
        def every_applied_change_had_two_distinct_eligible_approvers(self) -> None:
            applied = self.s.execute(
                select(WorkflowInstance).where(WorkflowInstance.state == "applied")
            ).scalars()
            for inst in applied:
                approvals = list(
                    self.s.execute(
                        select(AuditRecord)
                        .where(
                            AuditRecord.stream == instance_stream(inst.id),
                            AuditRecord.trigger == "approve",
                        )
                        .order_by(AuditRecord.seq)
                    ).scalars()
                )
                people = {r.actor for r in approvals}
                assert len(approvals) == 2 and len(people) == 2, people
                assert inst.created_by not in people
                assert not any(FORBIDDEN_ROLES & set(r.roles) for r in approvals)
                assert all({"risk_officer", "legal", "manager"} & set(r.roles) for r in approvals)
                assert [a["by"] for a in inst.data["approvals"]] == [r.actor for r in approvals]
            self.s.rollback()

        @invariant()
        def clients_change_only_through_applied_requests(self) -> None:
            for client_id, expected in self.expected.items():
                current = self.values(client_id)
                for field, value in expected.items():
                    now = current[field]
                    assert (float(now) if field == "credit_limit" else now) == (
                        float(value) if field == "credit_limit" else value
                    ), field  # type: ignore[arg-type]
            self.s.rollback()

        def teardown(self) -> None:
            report = verify_all(self.s)
            assert report.ok, report.first_break
            self.s.close()

    run_state_machine_as_test(
        DualApproval,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=20,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )
    return reached


def test_no_sequence_of_actions_applies_a_change_without_two_distinct_eligible_approvers(
    rt, db_url
):
    reached = run_machine(rt, 25 if db_url.startswith("sqlite") else 10)
    # The run must get as far as applied changes, or the invariants prove little. (Which
    # sequences a derandomized run draws also depends on the modules loaded in the process:
    # Hypothesis mixes constants found in their code into its draws. The approve_latest
    # rule makes second approvals common whatever is drawn.)
    assert {"first_approved", "applied"} <= reached, reached
