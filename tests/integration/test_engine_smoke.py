from workflow.engine import firing as engine
from workflow.records.identity import Actor

SALES = Actor("alice", frozenset({"sales"}))
RISK = Actor("rob", frozenset({"risk_officer"}))


def test_an_instance_is_submitted_and_approved(session):
    inst = engine.start(session, "test_approval", SALES, subject_id=1)
    session.commit()
    r = engine.fire(session, inst.id, "submit", SALES, expected_version=1)
    session.commit()
    assert (r.from_state, r.to_state, r.version) == ("draft", "pending", 2)
    r = engine.fire(session, inst.id, "approve", RISK, {"amount": 10}, expected_version=2)
    session.commit()
    assert r.to_state == "approved"
