"""Screening a client: data providers for the facts, the risk rule set for the rating.

The facts come from the client record (ownership, capital, age, facts typed in by
sales) and from every configured provider; a provider may only make things look
worse (a hit on any list counts, the highest count and the worst payment history
win), so one silent source cannot clear a client another one flagged.
"""

from __future__ import annotations

import functools
import os
from collections.abc import Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from sqlalchemy.orm import Session

from workflow.risk.clients.model import Client
from workflow.risk.screening.providers import DataProvider, ProviderResult
from workflow.risk.screening.rules import (
    PAYMENT_HISTORIES,
    RatingResult,
    RuleSet,
    load_default_rule_set,
    load_rule_set,
)


@functools.lru_cache(maxsize=4)
def _load(path: str) -> RuleSet:
    return load_default_rule_set() if not path else load_rule_set(path)


def rule_set(settings: Mapping[str, Any] | None = None) -> RuleSet:
    """The rule set in ``RISKLOOP_RULE_SET`` (a file path), else ``definitions/rules/default.yaml``;
    loaded and validated once per process.

    Raises:
        RuleSetError: the file is invalid (file and key named).
    """
    path = str((settings or {}).get("RISKLOOP_RULE_SET") or os.environ.get("RISKLOOP_RULE_SET", ""))
    return _load(path)


def record_facts(client: Client, now: datetime) -> dict[str, Any]:
    """The rule set's facts known from the client record itself."""
    facts: dict[str, Any] = dict(client.facts or {})
    facts["client_type"] = client.client_type or "enterprise"
    facts["ownership_type"] = client.ownership_type or "unknown"
    facts["state_ownership_pct"] = float(client.state_ownership_pct or 0)
    facts["registered_capital"] = float(client.registered_capital or 0)
    facts["blacklisted"] = bool(client.blacklisted)
    if client.established_on is not None:
        days = (now.date() - client.established_on).days
        facts["years_in_business"] = round(max(days, 0) / 365.25, 2)
    return facts


def merge_facts(base: dict[str, Any], results: list[ProviderResult]) -> dict[str, Any]:
    """Combine record facts with provider facts, keeping the worse value of each."""
    merged = dict(base)
    for result in results:
        for key, value in result.facts.items():
            current = merged.get(key)
            if key in ("blacklisted", "dishonest_debtor"):
                merged[key] = bool(current) or bool(value)
            elif key == "payment_history":
                order = PAYMENT_HISTORIES.index
                merged[key] = value if current is None or order(value) > order(current) else current
            else:
                merged[key] = max(int(current or 0), int(value))
    return merged


@dataclass(frozen=True)
class Screening:
    """The outcome: the rating with its explanation, and what each provider said."""

    result: RatingResult
    checks: list[dict[str, Any]]
    possible_matches: list[dict[str, Any]] = field(default_factory=list)

    def reasons(self) -> list[str]:
        """Why the client is rated as it is, for a rejection (zh-CN / en)."""
        reasons = [
            f"{r['reason'].get('zh-CN', '')} / {r['reason'].get('en', '')}".strip(" /")
            for r in self.result.fired_rules
            if r["rating"] == self.result.rating
        ]
        if not reasons:
            reasons.append(
                f"评分 {self.result.score} 对应评级 {self.result.rating} / "
                f"scorecard score {self.result.score} gives rating {self.result.rating}"
            )
        return reasons

    def payload(self) -> dict[str, Any]:
        """The ``screened`` action's payload (see definitions/client_onboarding.yaml)."""
        data = self.result.to_dict()
        return {
            "rating": data["rating"],
            "score": data["score"],
            "risk_level": data["risk_level"],
            "credit_limit": data["credit_limit"],
            "decided_by": data["decided_by"],
            "fired_rules": data["fired_rules"],
            "contributions": data["contributions"],
            "checks": self.checks,
            "reasons": self.reasons(),
            "possible_matches": self.possible_matches,
        }


def screen(
    session: Session,
    client: Client,
    providers: list[DataProvider],
    rules: RuleSet,
    now: datetime,
    *,
    extra: list[ProviderResult] | None = None,
) -> Screening:
    """Ask every provider, then rate the client.

    Raises:
        ServiceUnavailable: a provider cannot be reached (the caller's task is retried).
        InvalidFactsError: the record or a provider gave facts the rule set refuses.
    """
    results = [provider.lookup(session, client) for provider in providers]
    # ``extra``: facts known already (the client's risk events), merged like a provider's
    facts = merge_facts(record_facts(client, now), [*results, *(extra or [])])
    return Screening(
        result=rules.evaluate(facts),
        checks=[r.to_dict() for r in results],
        possible_matches=[m for r in results for m in r.possible_matches],
    )
