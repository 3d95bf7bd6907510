"""Verifying the whole trail: every chain, and every instance replayed against its row."""

from __future__ import annotations

from collections.abc import Callable

from sqlalchemy.orm import Session

from .audit import VerifyReport, replay_state, verify_chains
from .models import AuditRecord, WorkflowInstance


def verify_all(session: Session, *, progress: Callable[[str], None] | None = None) -> VerifyReport:
    """Check chains and replay each workflow stream; names the first break."""
    pending: list[AuditRecord] = []

    def on_stream_end(stream: str, last: AuditRecord) -> str | None:
        if not stream.startswith("workflow:"):
            return None
        instance_id = int(stream.split(":", 1)[1])
        instance = session.get(WorkflowInstance, instance_id)
        if instance is None:
            return "the audit stream has no workflow instance"
        if instance.audit_seq != last.seq or instance.audit_hash != last.hash:
            return (f"the instance's chain head (seq {instance.audit_seq}) does not match the last "
                    f"record (seq {last.seq}): records were removed or added")
        return None

    def report(count: int) -> None:
        if progress is not None:
            progress(f"  verified {count} records…")

    report_ = verify_chains(session, on_stream_end=on_stream_end, progress=report)
    del pending
    if not report_.ok:
        return report_
    return _replay_instances(session, report_)


def _replay_instances(session: Session, chains: VerifyReport) -> VerifyReport:
    from sqlalchemy import select

    from .audit import Break, instance_stream

    last_id = 0
    while True:
        instances = list(session.execute(
            select(WorkflowInstance).where(WorkflowInstance.id > last_id)
            .order_by(WorkflowInstance.id).limit(500)
        ).scalars())
        if not instances:
            return chains
        for instance in instances:
            stream = instance_stream(instance.id)
            records = session.execute(
                select(AuditRecord).where(AuditRecord.stream == stream).order_by(AuditRecord.seq)
            ).scalars()
            try:
                state, version = replay_state(records)
            except ValueError as exc:
                return VerifyReport(False, chains.records, chains.streams,
                                    Break(stream, 0, None, f"replay failed: {exc}"))
            if (state, version) != (instance.state, instance.version):
                return VerifyReport(False, chains.records, chains.streams, Break(
                    stream, instance.audit_seq, None,
                    f"replay gives state {state!r} v{version} but the instance is "
                    f"{instance.state!r} v{instance.version}"))
            last_id = instance.id
        session.expunge_all()
