"""Re-rating every client with a candidate rule set, read only, beside the active one.

The facts are the ones production re-rates on (``rerating.current_facts``: the client
record, what the providers said at admission, the client's risk events), read a chunk
of clients at a time with one query for their events. Both rule sets rate the same facts,
so what differs is the rule change alone. The determinism check replays the active rule
set on the rating history it wrote: every record made by the active version is rated
again on the facts it recorded and must come out the same.
"""

from __future__ import annotations

from collections import Counter, defaultdict
from collections.abc import Callable, Iterator
from datetime import datetime
from typing import Any

from sqlalchemy import func, select
from sqlalchemy.orm import Session

from workflow.risk.clients.model import Client
from workflow.risk.events.model import RatingRecord
from workflow.risk.events.rerating import (
    RATED_STATUSES,
    RATING_FIELDS,
    admission_checks,
    current_facts,
    event_facts,
    fact_events,
    rule_set_label,
)
from workflow.risk.screening.rules import RatingResult, RuleSet
from workflow.risk.screening.screen import merge_facts, record_facts

CHUNK = 1000
MAX_LISTED = 200
SEGMENTS = ("industry", "ownership_type", "region", "rating")
# Only what rating reads: the encrypted columns are never loaded (nor decrypted).
_COLUMNS = (
    Client.id,
    Client.name,
    Client.industry,
    Client.region,
    Client.ownership_type,
    Client.state_ownership_pct,
    Client.registered_capital,
    Client.established_on,
    Client.blacklisted,
    Client.facts,
    Client.screening,
    Client.rating,
)
_RECORD_COLUMNS = (
    RatingRecord.id,
    RatingRecord.client_id,
    RatingRecord.rating,
    RatingRecord.risk_score,
    RatingRecord.risk_level,
    RatingRecord.credit_limit,
    RatingRecord.previous,
    RatingRecord.reasons,
    RatingRecord.rule_set_version,
    RatingRecord.trigger,
    RatingRecord.outcome,
    RatingRecord.rated_at,
)
Progress = Callable[[int, int], None]


def _chunks(session: Session) -> Iterator[list[Client]]:
    """Rated clients by id, ``CHUNK`` at a time, as detached copies holding only ``_COLUMNS``."""
    after = 0
    while True:
        rows = session.execute(
            select(*_COLUMNS)
            .where(Client.status.in_(RATED_STATUSES), Client.id > after)
            .order_by(Client.id)
            .limit(CHUNK)
        ).all()
        if not rows:
            return
        yield [Client(**row._asdict()) for row in rows]
        after = rows[-1].id


def _decision(result: RatingResult) -> dict[str, Any]:
    return {
        "rating": result.rating,
        "risk_level": result.risk_level,
        "credit_limit": result.credit_limit,
    }


def _evaluate(rules: RuleSet, facts: dict[str, Any], what: str, client: Client) -> RatingResult:
    try:
        return rules.evaluate(facts)
    except ValueError as exc:  # RuleSetError, InvalidFactsError
        raise ValueError(f"{what} rule set fails on client {client.id}: {exc}") from exc


class _Tally:
    """What moves: counts, the first movers, and counts by segment."""

    def __init__(self) -> None:
        self.clients = 0
        self.limits = {"active": 0, "candidate": 0}
        self.changed: Counter[str] = Counter()
        self.moves: Counter[str] = Counter()
        self.movers: list[dict[str, Any]] = []
        self.segments: dict[str, dict[str, Counter[str]]] = {
            s: defaultdict(Counter) for s in SEGMENTS
        }

    def add(self, client: Client, before: dict[str, Any], after: dict[str, Any]) -> None:
        self.clients += 1
        self.limits["active"] += before["credit_limit"]
        self.limits["candidate"] += after["credit_limit"]
        changed = [f for f in RATING_FIELDS if before[f] != after[f]]
        self.changed.update(changed)
        for segment in SEGMENTS:
            counts = self.segments[segment][str(getattr(client, segment) or "")]
            counts["clients"] += 1
            counts["changed"] += bool(changed)
        if not changed:
            return
        self.changed["any"] += 1
        self.moves[f"{before['rating']}->{after['rating']}"] += 1
        if len(self.movers) < MAX_LISTED:
            self.movers.append(
                {"client_id": client.id, "name": client.name, "from": before, "to": after}
            )

    def report(self) -> dict[str, Any]:
        return {
            "clients": self.clients,
            "changed": {f: self.changed[f] for f in ("any", *RATING_FIELDS)},
            "rating_moves": dict(sorted(self.moves.items())),
            "credit_limit_total": dict(self.limits),
            "movers": self.movers,
            "movers_truncated": self.changed["any"] > len(self.movers),
            "segments": {
                segment: {value: dict(c) for value, c in sorted(values.items())}
                for segment, values in self.segments.items()
            },
        }


class _Determinism:
    """The active rule set replayed on the decisions it recorded in the rating history."""

    def __init__(self, active: RuleSet) -> None:
        self.active = active
        self.label = rule_set_label(active)
        self.fact_of = {i.id: i.fact for i in active.indicators}
        self.counts: Counter[str] = Counter()
        self.mismatches: list[dict[str, Any]] = []

    def check(self, session: Session, clients: list[Client], events: dict[int, list[Any]]) -> None:
        by_client: dict[int, list[Any]] = defaultdict(list)
        for record in session.execute(
            select(*_RECORD_COLUMNS)
            .where(RatingRecord.client_id.in_([c.id for c in clients]))
            .order_by(RatingRecord.id)
        ):
            if _scorecard(record) is not None:  # an evaluation, not an override
                by_client[record.client_id].append(record)
        for client in clients:
            evaluations = by_client[client.id]
            for record in evaluations:
                if record.rule_set_version != self.label:
                    self.counts["other_version"] += 1
                    continue
                latest = record is evaluations[-1]
                facts = self._recorded_facts(session, client, record, events[client.id], latest)
                if facts is None:
                    self.counts["not_replayable"] += 1
                    continue
                self.counts["checked"] += 1
                try:
                    result = self.active.evaluate(facts)
                except ValueError as exc:  # the recorded facts no longer rate: not reproduced
                    self._mismatch(record, {"error": str(exc)})
                    continue
                self._compare(record, result)

    def _recorded_facts(
        self, session: Session, client: Client, record: Any, events: list[Any], latest: bool
    ) -> dict[str, Any] | None:
        scorecard = _scorecard(record) or {}
        if scorecard.get("facts"):
            return dict(scorecard["facts"])
        if record.trigger != "screening" or not latest:
            # an admission screening recorded no facts; after a later evaluation the
            # client record may have changed, so only the latest one can be rebuilt
            return None
        at = record.rated_at
        known = [e for e in events if e.received_at <= at]
        facts = merge_facts(
            record_facts(client, at),
            [*admission_checks(client), event_facts(session, client.id, at, events=known)],
        )
        for contribution in scorecard.get("contributions") or []:
            fact = self.fact_of.get(contribution.get("indicator"))
            if fact is not None:
                facts[fact] = contribution.get("value")  # the value the screening read
        return facts

    def _compare(self, record: Any, result: RatingResult) -> None:
        previous = record.previous or {}
        recorded = {
            "rating": record.rating,
            "risk_score": float(record.risk_score),
            "risk_level": record.risk_level,
            "credit_limit": float(record.credit_limit) if record.credit_limit is not None else None,
            "fired_rules": [r.get("id") for r in record.reasons if r.get("kind") == "rule"],
            "decided_by": (_scorecard(record) or {}).get("decided_by"),
        }
        replayed = {
            "rating": result.rating,
            "risk_score": result.score,
            "risk_level": result.risk_level,
            "credit_limit": float(result.credit_limit),
            "fired_rules": [r["id"] for r in result.fired_rules],
            "decided_by": result.decided_by,
        }
        differ = {
            field: {"recorded": recorded[field], "replayed": value}
            for field, value in replayed.items()
            if recorded[field] != value
            # a better value is held back for approval: the record keeps the one before
            and not (record.outcome == "applied" and recorded[field] == previous.get(field))
        }
        if differ:
            self._mismatch(record, {"fields": differ})

    def _mismatch(self, record: Any, what: dict[str, Any]) -> None:
        self.counts["mismatches"] += 1
        if len(self.mismatches) < MAX_LISTED:
            self.mismatches.append(
                {
                    "client_id": record.client_id,
                    "record_id": record.id,
                    "trigger": record.trigger,
                    "rated_at": record.rated_at.isoformat() + "Z",
                    **what,
                }
            )

    def report(self) -> dict[str, Any]:
        return {
            "rule_set": self.label,
            "checked": self.counts["checked"],
            "mismatches": self.counts["mismatches"],
            "mismatched": self.mismatches,
            "other_version": self.counts["other_version"],
            "not_replayable": self.counts["not_replayable"],
            "passed": self.counts["mismatches"] == 0,
        }


def _scorecard(record: Any) -> dict[str, Any] | None:
    """The scorecard part of an evaluation's reasons; None for an override's record."""
    return next(
        (r for r in record.reasons or [] if isinstance(r, dict) and r.get("kind") == "scorecard"),
        None,
    )


def replay_rule_set(
    session: Session,
    candidate: RuleSet,
    active: RuleSet,
    now: datetime,
    progress: Progress | None = None,
) -> dict[str, Any]:
    """Every rated client rated by ``active`` and by ``candidate`` on its current facts.

    Raises:
        ValueError: a rule set cannot rate a client's stored facts (the client named).
    """
    total = session.execute(
        select(func.count()).select_from(Client).where(Client.status.in_(RATED_STATUSES))
    ).scalar_one()
    tally = _Tally()
    determinism = _Determinism(active)
    done = 0
    for clients in _chunks(session):
        events = fact_events(session, [c.id for c in clients])
        for client in clients:
            facts = current_facts(session, client, now, events=events[client.id])
            before = _decision(_evaluate(active, facts, "the active", client))
            after = _decision(_evaluate(candidate, facts, "the candidate", client))
            tally.add(client, before, after)
        determinism.check(session, clients, events)
        done += len(clients)
        if progress is not None:
            progress(done, total)
    return {**tally.report(), "determinism": determinism.report()}
