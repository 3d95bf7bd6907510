"""Run a leave request from start to its final state on the riskloop engine alone.

    python examples/leave_request/run.py [DATABASE_URL]    (default: a SQLite file here)

Everything the engine needs is built here, the way riskloop's own composition root
(``api.composition``) builds it: a role policy, a registry (only the engine's builtins),
a catalog with the definition, and the engine object bound to a session factory.
"""

from __future__ import annotations

import sys
import tempfile
from pathlib import Path

from sqlalchemy import create_engine, select
from sqlalchemy.orm import sessionmaker

from workflow.engine import builtins, firing
from workflow.engine.catalog import Catalog
from workflow.engine.policy import RolePolicy
from workflow.engine.runtime import Runtime
from workflow.errors import Forbidden
from workflow.platform.db import Base
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord, WorkflowInstance

HERE = Path(__file__).parent
POLICY = RolePolicy(roles=frozenset({"employee", "supervisor"}), see_all=frozenset({"supervisor"}))
ALICE = Actor("alice", frozenset({"employee"}))
BOB = Actor("bob", frozenset({"supervisor"}))
CAROL = Actor("carol", frozenset({"supervisor"}))  # a supervisor asking for her own leave


def build_runtime(database_url: str) -> Runtime:
    """The engine object: policy + registry + catalog, on sessions of ``database_url``."""
    catalog = Catalog(builtins.registry, POLICY)
    catalog.load_folder(HERE)
    engine = create_engine(database_url)
    Base.metadata.create_all(engine)  # the engine's own tables (instances, audit, outbox, timers)
    runtime = Runtime(catalog=catalog, settings={})
    runtime.bind(sessionmaker(engine, expire_on_commit=False))
    with runtime.session() as session:
        catalog.sync(session)
        session.commit()
    return runtime


def main(database_url: str) -> dict[str, object]:
    runtime = build_runtime(database_url)
    with runtime.session() as session:
        own = firing.start(session, "leave_request", CAROL, data={"days": 2, "from": "2026-12-21"})
        leave = firing.start(
            session, "leave_request", ALICE, data={"days": 3, "from": "2026-12-22"}
        )
        session.commit()
        try:  # Carol may not approve her own request, supervisor or not
            firing.fire(session, own.id, "approve", CAROL)
            refused = None
        except Forbidden as exc:
            session.rollback()
            refused = exc.extra.get("rule")
        firing.fire(session, own.id, "approve", BOB, {"note": "enjoy"})
        result = firing.fire(session, leave.id, "approve", BOB, {"note": "ok"}, expected_version=1)
        session.commit()
        trail = list(
            session.execute(
                select(AuditRecord.kind, AuditRecord.trigger)
                .where(AuditRecord.instance_id == leave.id)
                .order_by(AuditRecord.seq)
            )
        )
        instance = session.get(WorkflowInstance, leave.id)
        assert instance is not None
        return {
            "state": result.to_state,
            "is_open": instance.is_open,
            "self_approval_refused_by": refused,
            "approval": instance.data["approve"]["by"],
            "trail": [f"{kind}:{trigger or ''}" for kind, trigger in trail],
        }


if __name__ == "__main__":
    url = (
        sys.argv[1]
        if len(sys.argv) > 1
        else f"sqlite:///{Path(tempfile.mkdtemp(prefix='leave-')) / 'leave.sqlite'}"
    )
    print(main(url))
