"""The roles of customer-risk management, given to the engine as its policy."""

from __future__ import annotations

from workflow.engine.policy import RolePolicy

POLICY = RolePolicy(
    roles=frozenset({"sales", "risk_officer", "legal", "manager", "auditor", "admin"}),
    # Approvers, managers and auditors see every case.
    see_all=frozenset({"risk_officer", "legal", "manager", "auditor"}),
    # Auditors read and verify; they never act on a workflow.
    non_acting=frozenset({"auditor"}),
    # Administrators move running cases to a new definition version.
    administer=frozenset({"admin"}),
)
