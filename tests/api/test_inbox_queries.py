"""The inbox (GET /api/v1/tasks): its order and cut against a brute-force reading of every
open case, and the number of SQL statements a page costs (no query per case)."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import datetime, timedelta
from pathlib import Path

import pytest
from flask import Flask
from sqlalchemy import event, select

from api.extensions import db, runtime_of
from tests.support.app import Api, lent_without_sender, make_app
from workflow.engine import firing as engine
from workflow.engine import visibility
from workflow.engine.inbox import inbox
from workflow.platform import clock
from workflow.records.identity import Actor
from workflow.records.models import WorkflowInstance

# draft has no SLA (due time NULL: last in the inbox); review and second have one.
# not_actor_of makes each page look up who fired what on each candidate; review has two
# guarded ways out (approve, send_back), both asking.
DEFINITION = """
name: test_inbox_order
version: 1
title: {zh-CN: 收件箱顺序, en: Inbox order}
initial: draft
states:
  draft: {label: {zh-CN: 草稿, en: Draft}}
  review: {label: {zh-CN: 审核, en: Review}, sla: 48h}
  second: {label: {zh-CN: 复核, en: Second}, sla: 2h}
  done: {label: {zh-CN: 完成, en: Done}, final: true}
transitions:
  - trigger: submit
    source: draft
    dest: review
    roles: [sales, risk_officer]
  - trigger: approve
    source: review
    dest: second
    roles: [risk_officer, manager]
    guards:
      - not_actor_of: {triggers: [submit]}
  - trigger: send_back
    source: review
    dest: draft
    roles: [risk_officer, manager]
    guards:
      - not_actor_of: {triggers: [submit]}
  - trigger: confirm
    source: second
    dest: done
    roles: [risk_officer, manager]
    guards:
      - not_actor_of: {triggers: [approve]}
"""

SALES1 = Actor("sales1", frozenset({"sales"}))
RISK1 = Actor("risk1", frozenset({"risk_officer"}))
RISK2 = Actor("risk2", frozenset({"risk_officer"}))
T0 = datetime(2026, 11, 2, 9, 0)


@pytest.fixture
def app(db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Flask]:
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    definitions = tmp_path / "definitions"
    definitions.mkdir()
    (definitions / "inbox_order.yaml").write_text(DEFINITION, encoding="utf-8")
    app = make_app(db_url, tmp_path, RISKLOOP_EXTRA_DEFINITIONS=str(definitions))
    with lent_without_sender(app):
        yield app


def _case(steps: list[tuple[str, Actor]], at: datetime, by: Actor = SALES1) -> int:
    clock.freeze(at)
    inst = engine.start(db.session, "test_inbox_order", by)
    for trigger, actor in steps:
        engine.fire(db.session, inst.id, trigger, actor)
    db.session.commit()
    return inst.id


def _history(app: Flask) -> None:
    """Cases in every open state, due times spread, some equal (order then by id), and
    some that risk1 may not take (risk1 submitted them: not_actor_of turns them down)."""
    with app.app_context():
        for n in range(6):
            _case([], T0 + timedelta(hours=n))  # draft, due NULL
            _case([("submit", SALES1)], T0 + timedelta(hours=3 * (n % 3)))  # review, ties
            _case([("submit", RISK1)], T0 + timedelta(hours=n), by=RISK1)  # review, not risk1's
            _case(
                [("submit", SALES1), ("approve", RISK1)], T0 + timedelta(minutes=50 * n)
            )  # second
            _case([("submit", SALES1), ("approve", RISK2)], T0 + timedelta(hours=n, minutes=7))
        _case([("submit", SALES1), ("approve", RISK2), ("confirm", RISK1)], T0)  # closed
    clock.freeze(T0 + timedelta(days=1))


def _expected(app: Flask, username: str, roles: set[str]) -> list[tuple[int, list[str]]]:
    """Every open case checked one by one, in the documented order: due time (none last),
    then id."""
    actor = Actor(username, frozenset(roles))
    with app.app_context():
        catalog = runtime_of(app).catalog
        rows = db.session.execute(
            select(WorkflowInstance).where(WorkflowInstance.is_open.is_(True))
        ).scalars()
        found = []
        for inst in sorted(rows, key=lambda i: (i.sla_due_at is None, i.sla_due_at or T0, i.id)):
            if not visibility.can_view(db.session, inst, actor, catalog):
                continue
            actions = engine.available_actions(db.session, inst, actor)
            if actions:
                found.append((inst.id, actions))
        db.session.rollback()
        return found


@pytest.mark.parametrize(
    ("username", "roles"),
    [
        ("risk1", {"risk_officer"}),
        ("risk2", {"risk_officer"}),
        ("manager1", {"manager"}),
        ("sales1", {"sales"}),
        ("sales2", {"sales"}),
        ("auditor1", {"auditor"}),
    ],
)
def test_each_page_is_the_start_of_the_brute_force_order(app, api, username, roles):
    _history(app)
    expected = _expected(app, username, roles)
    if username in ("risk1", "risk2", "manager1"):
        assert len(expected) > 12  # enough to need more than one batch at small limits
    for limit in (1, 2, 5, 7, 13, 50, 200):
        items = api.get(username, f"/api/v1/tasks?limit={limit}").get_json()["items"]
        assert [(i["id"], i["available_actions"]) for i in items] == expected[:limit], limit
    with app.app_context():
        catalog = runtime_of(app).catalog
        # The service the console uses, filtered by definition, and a definition with no task.
        got = [
            (i.id, a)
            for i, a in inbox(
                db.session,
                catalog,
                Actor(username, frozenset(roles)),
                limit=9,
                definition="test_inbox_order",
            )
        ]
        assert got == expected[:9]
        assert (
            list(
                inbox(
                    db.session,
                    catalog,
                    Actor(username, frozenset(roles)),
                    limit=9,
                    definition="no_such_definition",
                )
            )
            == []
        )
        assert (
            "riskloop.trigger_actors" not in db.session.info
        )  # the batch lookup is not left behind


def test_risk1_is_not_offered_what_risk1_did_before(app, api):
    _history(app)
    items = api.get("risk1", "/api/v1/tasks?limit=200").get_json()["items"]
    with app.app_context():
        theirs = set(
            db.session.execute(
                select(WorkflowInstance.id).where(WorkflowInstance.created_by == "risk1")
            ).scalars()
        )
    assert theirs and not theirs & {i["id"] for i in items}
    # the order of the page: dated cases by due time then id, undated (drafts) last
    keys = [(i["sla_due_at"] is None, i["sla_due_at"] or "", i["id"]) for i in items]
    assert keys == sorted(keys) and keys[-1][0] is True and keys[0][0] is False


class _Statements:
    def __init__(self, app: Flask) -> None:
        with app.app_context():
            self.engine = db.engine
        self.seen: list[str] = []
        self.sent: list[tuple[str, object]] = []  # whole, with their parameters

    def __enter__(self) -> _Statements:
        event.listen(self.engine, "before_cursor_execute", self._grab)
        return self

    def __exit__(self, *exc: object) -> None:
        event.remove(self.engine, "before_cursor_execute", self._grab)

    def _grab(self, conn, cursor, statement, parameters, context, executemany) -> None:  # noqa: ANN001
        if " ".join(statement.split()).endswith("FROM definitions"):
            return  # the catalog's look for new versions (every CHECK_SECONDS), not the page's
        if statement.lstrip().upper().startswith("SELECT"):  # not BEGIN (SQLite's own) or SAVEPOINT
            self.seen.append(" ".join(statement.split())[:160])
            self.sent.append((statement, parameters))

    def plans(self) -> list[str]:
        """Each statement's plan (PostgreSQL), with sequential scans disabled: a plan that
        still holds one has no index to use, and would read the whole table at 1 M cases
        (bitmap scans too: an index read in order)."""
        plans = []
        with self.engine.connect() as conn:
            conn.exec_driver_sql("SET enable_seqscan = off")
            conn.exec_driver_sql("SET enable_bitmapscan = off")  # an index read in order
            for statement, parameters in self.sent:
                rows = conn.exec_driver_sql("EXPLAIN " + statement, parameters).scalars()  # type: ignore[arg-type]
                plans.append("\n".join(rows))
            conn.rollback()
        return plans


def test_a_page_costs_the_same_few_statements_whatever_its_size(app, api: Api):
    """manager1 did nothing in the history, so no candidate is turned down; each case has
    a segregation guard that asks who fired what on it."""
    _history(app)
    api.token("manager1")  # sign in before counting
    counts = {}
    for limit in (1, 4, 12, 200):
        with _Statements(app) as st:
            items = api.get("manager1", f"/api/v1/tasks?limit={limit}").get_json()["items"]
        assert len(items) == min(limit, 24)
        # the token (on PostgreSQL checked on the driver's cursor, unseen here), the
        # candidates, who fired what on them: nothing per case
        assert len(st.seen) in (2, 3), "\n".join(st.seen)
        assert sum(s.startswith("SELECT workflow_instances.") for s in st.seen) == 1
        assert sum(s.startswith("SELECT audit_records.") for s in st.seen) == 1
        counts[limit] = len(st.seen)
    assert len(set(counts.values())) == 1, counts


def test_turned_down_candidates_cost_a_query_per_batch_not_per_case(app, api: Api):
    """risk1 submitted many open reviews (none is risk1's task): they are read in growing
    batches past the cases risk1 may take, never one query each."""
    with app.app_context():
        for n in range(40):
            _case([("submit", RISK1)], T0 + timedelta(minutes=n), by=RISK1)
        mine = _case([("submit", SALES1)], T0 + timedelta(hours=5))
    clock.freeze(T0 + timedelta(days=1))
    api.token("risk1")
    with _Statements(app) as st:
        items = api.get("risk1", "/api/v1/tasks?limit=1").get_json()["items"]
    assert [i["id"] for i in items] == [mine]
    # batches of 11, 22, then the rest: three candidate reads, three audit reads
    assert len(st.seen) <= 1 + 3 + 3, st.seen


def test_the_batch_lookup_answers_as_the_per_case_query_does(app):
    """Whatever triggers a guard asks about, the batch answers as actors_of alone does,
    from one read for the whole batch."""
    from workflow.engine.builtins.guards import TRIGGER_ACTORS, actors_of
    from workflow.engine.context import FireContext
    from workflow.engine.inbox import TriggerActors

    _history(app)
    with app.app_context():
        instances = list(db.session.execute(select(WorkflowInstance)).scalars())
        asks = [["submit"], ["approve"], ["confirm"], ["submit", "approve"], [], ["no_such"]]

        def ask(inst: WorkflowInstance, triggers: list[str]) -> set[str]:
            ctx = FireContext(
                session=db.session,
                instance=inst,
                definition=None,
                transition=None,  # type: ignore[arg-type]
                actor=RISK1,
                payload={},
                comment=None,
                from_state=inst.state,
                now=clock.now(),
            )
            return actors_of(ctx, triggers)

        alone = {(i.id, tuple(t)): ask(i, t) for i in instances for t in asks}
        for _ in range(2):
            batch = TriggerActors(db.session, [i.id for i in instances[:-1]])
            db.session.info[TRIGGER_ACTORS] = batch
            try:
                with _Statements(app) as st:
                    got = {(i.id, tuple(t)): ask(i, t) for i in instances[:-1] for t in asks}
            finally:
                db.session.info.pop(TRIGGER_ACTORS)
            assert got == {k: v for k, v in alone.items() if k[0] != instances[-1].id}
            assert any(got.values())
            assert len(st.seen) == 1, st.seen  # one read, whatever the number of cases
            assert batch(instances[-1].id, ["submit"]) is None  # outside the batch: not known
        db.session.rollback()


def test_a_sales_inbox_reads_the_owners_of_a_batch_at_once(app, api: Api):
    """sales1 sees only cases on their own clients: the owners of a batch's clients are
    read in one query, not one per case (other people's cases are read past)."""
    from workflow.risk.clients.model import Client

    sales2 = Actor("sales2", frozenset({"sales"}))
    with app.app_context():
        owners = {}
        for n, owner in enumerate(["sales2"] * 30 + ["sales1"] * 3):
            client = Client(
                name=f"客户 {n}",
                credit_code=f"91310000MA1K{n:06d}",
                owner=owner,
                created_by=owner,
                status="prospect",
                version=1,
                tags=[],
                contracts=[],
                facts={},
                blacklisted=False,
            )
            db.session.add(client)
            db.session.flush()
            clock.freeze(T0 + timedelta(minutes=n))
            by = SALES1 if owner == "sales1" else sales2
            case = engine.start(
                db.session, "test_inbox_order", by, subject_type="client", subject_id=client.id
            )
            owners[case.id] = owner
        db.session.commit()
    clock.freeze(T0 + timedelta(days=1))
    api.token("sales1")
    with _Statements(app) as st:
        items = api.get("sales1", "/api/v1/tasks?limit=50").get_json()["items"]
    assert sorted(i["id"] for i in items) == sorted(c for c, o in owners.items() if o == "sales1")
    client_reads = [s for s in st.seen if "FROM clients" in s]
    assert 1 <= len(client_reads) <= 2, st.seen  # one per candidate batch


def _in_review(app, initiator: str) -> int:
    """A case of the history in review that ``initiator`` submitted."""
    with app.app_context():
        found = (
            db.session.execute(
                select(WorkflowInstance.id).where(
                    WorkflowInstance.state == "review", WorkflowInstance.created_by == initiator
                )
            )
            .scalars()
            .first()
        )
        db.session.rollback()
    assert found is not None
    return found


def test_an_instance_read_reads_the_case_once_and_its_actors_once(app, api: Api, db_url: str):
    """GET /api/v1/workflows/{id}: the case is read once (the authorisation check and the
    view share it), and who fired what on it once for all its guarded ways out (approve and
    send_back both ask), not once per transition. On PostgreSQL every statement has an
    index to use (which one, on tables this small, is the planner's guess; the bench's
    scale section EXPLAINs the same statements at 1 M cases)."""
    _history(app)
    case = _in_review(app, "sales1")
    api.token("manager1")
    api.get("manager1", f"/api/v1/workflows/{case}")  # the catalog's first look, not counted
    with _Statements(app) as st:
        body = api.get("manager1", f"/api/v1/workflows/{case}").get_json()
    assert body["id"] == case and body["available_actions"] == ["approve", "send_back"]
    assert sum(s.startswith("SELECT workflow_instances.") for s in st.seen) == 1, st.seen
    assert sum(s.startswith("SELECT audit_records.") for s in st.seen) == 1, st.seen
    # risk1 submitted this one: both ways out refused, from the same single read
    theirs = _in_review(app, "risk1")
    api.token("risk1")
    with _Statements(app) as st:
        body = api.get("risk1", f"/api/v1/workflows/{theirs}").get_json()
    assert body["available_actions"] == []
    assert sum(s.startswith("SELECT audit_records.") for s in st.seen) == 1, st.seen
    if db_url.startswith("postgresql"):
        plans = st.plans()
        assert plans and not [p for p in plans if "Seq Scan" in p], plans


def test_the_inbox_statements_have_an_index_to_use(app, api: Api, db_url: str):
    """Candidates per actionable state, who fired what on them: on PostgreSQL no statement
    of a page needs a sequential scan (the bench counts them at 1 M cases; here the tables
    are small, so the planner is told to avoid them and must still find an index)."""
    _history(app)
    api.token("manager1")
    with _Statements(app) as st:
        items = api.get("manager1", "/api/v1/tasks?limit=50").get_json()["items"]
    assert items
    assert sum(s.startswith("SELECT audit_records.") for s in st.seen) == 1, st.seen
    if not db_url.startswith("postgresql"):
        return  # the plans are PostgreSQL's
    plans = st.plans()
    assert len(plans) >= 2 and not [p for p in plans if "Seq Scan" in p], plans
