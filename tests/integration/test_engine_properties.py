"""Random action sequences never break the engine's invariants (hypothesis)."""

from __future__ import annotations

from hypothesis import HealthCheck, settings
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from workflow.audit.verification import verify_all
from workflow.engine import firing as engine
from workflow.errors import RiskloopError
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance
from workflow.records.trail import instance_stream

ACTORS = [
    Actor("alice", frozenset({"sales"})),
    Actor("bob", frozenset({"sales"})),
    Actor("rob", frozenset({"risk_officer"})),
    Actor("mia", frozenset({"manager", "sales"})),
    Actor("aud", frozenset({"auditor"})),
    Actor.system("timer"),
]
TRIGGERS = ["submit", "approve", "reject", "withdraw", "escalate", "fly"]
PAYLOADS = st.one_of(
    st.just({}),
    st.fixed_dictionaries({"amount": st.integers(-5, 2_000_000)}),
    st.fixed_dictionaries({"amount": st.text(max_size=3)}),
)


def run_machine(rt, max_examples: int) -> None:
    class EngineMachine(RuleBasedStateMachine):
        def __init__(self) -> None:
            super().__init__()
            self.session = rt.session_factory()
            self.seen: dict[int, tuple[int, bool]] = {}  # id -> (version, final)

        @rule(actor=st.sampled_from(ACTORS[:4]))
        def start(self, actor: Actor) -> None:
            inst = engine.start(self.session, "test_approval", actor, subject_id=1)
            self.session.commit()
            self.seen[inst.id] = (1, False)

        @precondition(lambda self: bool(self.seen))
        @rule(
            data=st.data(),
            actor=st.sampled_from(ACTORS),
            trigger=st.sampled_from(TRIGGERS),
            payload=PAYLOADS,
            stale=st.booleans(),
            comment=st.sampled_from([None, "", "ok"]),
        )
        def act(self, data, actor, trigger, payload, stale, comment) -> None:  # noqa: ANN001
            case = data.draw(st.sampled_from(sorted(self.seen)))
            version, _ = self.seen[case]
            try:
                engine.fire(
                    self.session,
                    case,
                    trigger,
                    actor,
                    payload,
                    comment=comment,
                    expected_version=version - 1 if stale else version,
                )
                self.session.commit()
            except RiskloopError:
                self.session.rollback()

        @invariant()
        def versions_only_grow_and_finals_stay(self) -> None:
            for case, (version, final) in list(self.seen.items()):
                inst = self.session.get(WorkflowInstance, case)
                assert inst.version >= version
                if final:
                    assert inst.version == version, "a final state was left"
                definition = rt.catalog.get(inst.definition, inst.definition_version)
                self.seen[case] = (inst.version, definition.is_final(inst.state))
            self.session.rollback()

        def teardown(self) -> None:
            report = verify_all(self.session)
            assert report.ok, report.first_break
            for case in self.seen:
                inst = self.session.get(WorkflowInstance, case)
                n = self.session.query(AuditRecord).filter_by(stream=instance_stream(case)).count()
                assert n == inst.version  # one 'started' record plus one per transition
            self.session.close()

    run_state_machine_as_test(
        EngineMachine,
        settings=settings(
            max_examples=max_examples,
            stateful_step_count=12,
            deadline=None,
            suppress_health_check=list(HealthCheck),
        ),
    )


def test_random_action_sequences_keep_versions_finals_chain_and_replay(engine_rt, db_url):
    run_machine(engine_rt, 25 if db_url.startswith("sqlite") else 10)
