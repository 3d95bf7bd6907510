"""The active rule set and monitoring rules, compiled once per process and version.

Before the first version of a kind is stored (a database created without ``riskloop
init``/start-up seeding) the shipped file is used, as it would be seeded.
"""

from __future__ import annotations

from sqlalchemy.orm import Session

from workflow.engine import runtime
from workflow.records.config_versions import ConfigVersion, read_active
from workflow.risk.events.monitoring import (
    MonitoringRules,
    monitoring_rules,
    parse_monitoring_rules,
)
from workflow.risk.screening.rules import RuleSet, parse_rule_set
from workflow.risk.screening.screen import rule_set as shipped_rule_set


def _source(row: ConfigVersion) -> str:
    return f"config_versions:{row.kind}@{row.version}"


def active_rule_set(session: Session) -> RuleSet:
    """The rule set that rates clients now.

    Raises:
        RuleSetError: the shipped file is invalid (before any version is stored).
    """
    settings = runtime.of(session).settings
    return read_active(
        session,
        "rule_set",
        lambda row: parse_rule_set(row.content, _source(row)),
        lambda: shipped_rule_set(settings),
    )


def active_monitoring_rules(session: Session) -> MonitoringRules:
    """The monitoring rules that judge risk events now."""
    settings = runtime.of(session).settings
    return read_active(
        session,
        "monitoring_rules",
        lambda row: parse_monitoring_rules(row.content, _source(row)),
        lambda: monitoring_rules(settings),
    )
