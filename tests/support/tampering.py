"""Tampering with the audit trail the way an attacker with database access would: edits, and
edits with the chain re-hashed."""

from __future__ import annotations

from sqlalchemy import select, text

from workflow.records import chain
from workflow.records.identity import Actor
from workflow.records.models import AuditRecord

KEY = "test-audit-key"
SALES = Actor("alice", frozenset({"sales"}))


def tamper(session, *statements: str, **params: object) -> None:
    if session.get_bind().dialect.name == "postgresql":
        session.execute(text("SET LOCAL session_replication_role = replica"))
    for statement in statements:
        session.execute(text(statement), params)
    session.commit()
    session.expunge_all()


def rehash(session, stream: str, seq: int, **changes: object) -> str:
    """Rewrite a record and recompute its own hash, as a careful attacker would."""
    rec = session.execute(
        select(AuditRecord).where(AuditRecord.stream == stream, AuditRecord.seq == seq)
    ).scalar_one()
    values = {k: getattr(rec, k) for k in chain.HASHED_FIELDS} | changes
    new_hash = chain.record_hash(values)
    sets = ", ".join(f"{k} = :{k}" for k in changes)
    tamper(
        session,
        f"UPDATE audit_records SET {sets}, hash = :h WHERE stream = :s AND seq = :q",
        **changes,
        h=new_hash,
        s=stream,
        q=seq,
    )
    return new_hash
