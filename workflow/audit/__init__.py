"""Reading and proving the audit trail: search, export, verification and replay, signed checkpoints, closed-loop and SLA reports, the offline export verifier."""
