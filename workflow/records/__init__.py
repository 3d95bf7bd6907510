"""The durable records every part shares and how each is written: the tables, who acts, the audit trail's chains, outbox rows and timer rows."""
