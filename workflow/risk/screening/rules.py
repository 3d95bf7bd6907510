"""Risk rule sets as data: rating rules, a weighted scorecard and a credit formula.

A rule set is a YAML file under ``definitions/rules/`` (schema in
``definitions/rules/default.yaml``). Every expression is CEL, compiled once at
load and tried on sample facts, so a broken rule stops start-up with the file
and key named instead of failing a screening later. Every problem of a file is
found in one pass (``RuleSetError.problems``), each with its key path and code.

Evaluation order: every rating rule is checked and all that match are
reported, but the first match decides the rating; without a match the
scorecard's band decides. The scorecard score is always computed.
"""

from __future__ import annotations

import hashlib
import math
import re
from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal
from functools import partial
from importlib.resources import files
from os import PathLike
from typing import Any, TypeVar

import cel
import yaml

from workflow.errors import DefinitionError, Message, ValidationFailed, shown

_T = TypeVar("_T")

RATINGS = ("S", "A", "B", "C", "D")
RISK_LEVELS = ("low", "medium", "high")
PAYMENT_HISTORIES = ("good", "minor_delays", "overdue", "default")

# Used for facts the caller leaves out or sets to None. No litigation or news
# found means none; an unknown payment history counts as clean because a new
# client has had no chance to pay late, and the capital and age indicators
# already mark a young company down.
FACT_DEFAULTS: dict[str, Any] = {
    "client_type": "enterprise",
    "ownership_type": "unknown",
    "state_ownership_pct": 0.0,
    "blacklisted": False,
    "dishonest_debtor": False,
    "registered_capital": 0.0,
    "years_in_business": 0.0,
    "litigation_count": 0,
    "negative_news_count": 0,
    "payment_history": "good",
}
_FLOAT_FACTS = ("state_ownership_pct", "registered_capital", "years_in_business")
_INT_FACTS = ("litigation_count", "negative_news_count")
_BOOL_FACTS = ("blacklisted", "dishonest_debtor")
_MAX_COUNT = 1_000_000

# Sample facts every expression must evaluate on at load time, so type errors
# (CEL never mixes int and double arithmetic) and misspelt facts surface early.
_PROBES: tuple[dict[str, Any], ...] = (
    FACT_DEFAULTS,
    FACT_DEFAULTS
    | {
        "ownership_type": "central_soe",
        "state_ownership_pct": 100.0,
        "registered_capital": 1e11,
        "years_in_business": 60.0,
    },
    FACT_DEFAULTS
    | {
        "ownership_type": "private",
        "state_ownership_pct": 50.0,
        "blacklisted": True,
        "dishonest_debtor": True,
        "registered_capital": 3e6,
        "years_in_business": 2.5,
        "litigation_count": 3,
        "negative_news_count": 2,
    },
    *(
        FACT_DEFAULTS | {"payment_history": p, "litigation_count": 999, "negative_news_count": 999}
        for p in PAYMENT_HISTORIES
    ),
    FACT_DEFAULTS | {"client_type": "natural_person"},
    FACT_DEFAULTS | {"client_type": "individual_business", "ownership_type": "individual"},
)
_MACRO_VARIABLE = re.compile(r"\.\s*(?:all|exists|exists_one|map|filter)\s*\(\s*([A-Za-z_]\w*)")


class RuleSetError(DefinitionError, ValueError):
    """Raised when a rule set file is invalid, or one of its expressions fails; names file and key."""


class InvalidFactsError(ValidationFailed, ValueError):
    """Raised when facts given to a rule set have unknown keys or values of the wrong type."""


def normalize_facts(facts: Mapping[str, Any]) -> dict[str, Any]:
    """Complete ``facts`` with :data:`FACT_DEFAULTS` and coerce them to CEL-friendly types.

    Raises:
        InvalidFactsError: an unknown key, or a value of the wrong type or range.
    """
    errors: dict[str, list[str]] = {}
    normalized = dict(FACT_DEFAULTS)
    for key, value in facts.items():
        if key not in FACT_DEFAULTS:
            errors[key] = [f"unknown fact; known facts are {', '.join(FACT_DEFAULTS)}"]
        elif value is not None:
            try:
                normalized[key] = _coerce_fact(key, value)
            except ValueError as exc:
                errors[key] = [str(exc)]
    if errors:
        detail = "; ".join(f"{key}: {messages[0]}" for key, messages in errors.items())
        raise InvalidFactsError(f"invalid risk facts: {detail}", errors=errors)
    return normalized


def _coerce_fact(key: str, value: Any) -> Any:
    if key in _BOOL_FACTS:
        if not isinstance(value, bool):
            raise ValueError(f"must be true or false, got {value!r}")
        return value
    if key in _FLOAT_FACTS or key in _INT_FACTS:
        if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
            raise ValueError(f"must be a number, got {value!r}")
        number = float(value)
        if not math.isfinite(number) or number < 0:
            raise ValueError(f"must be a finite number of at least 0, got {value!r}")
        if key == "state_ownership_pct" and number > 100:
            raise ValueError(f"is a percentage from 0 to 100, got {value!r}")
        if key in _INT_FACTS:
            if not number.is_integer():
                raise ValueError(f"must be a whole number, got {value!r}")
            if number > _MAX_COUNT:
                # CEL ints are 64-bit; an absurd count is a data error, not a rule error.
                raise ValueError(f"must be at most {_MAX_COUNT}, got {value!r}")
            return int(number)
        return number
    if not isinstance(value, str):
        raise ValueError(f"must be text, got {value!r}")
    text = value.strip().lower()
    if key == "payment_history" and text not in PAYMENT_HISTORIES:
        raise ValueError(f"must be one of {', '.join(PAYMENT_HISTORIES)}, got {value!r}")
    return text


@dataclass(frozen=True)
class _Expression:
    """A CEL expression compiled at load, remembering where it came from for error messages."""

    source: str
    file: str
    key: str
    program: Any = field(repr=False, compare=False)

    def run(self, context: Any) -> Any:
        try:
            return self.program.execute(context)
        except KeyError as exc:
            raise RuleSetError(
                self.file,
                self.key,
                Message(
                    "rules.expression_unknown_name",
                    f"expression {self.source!r} reads unknown name {exc}; facts are "
                    f"{', '.join(FACT_DEFAULTS)}",
                    expression=self.source,
                    name=str(exc).strip("'\""),
                    facts=list(FACT_DEFAULTS),
                ),
            ) from exc
        except TypeError as exc:
            raise RuleSetError(
                self.file,
                self.key,
                Message(
                    "rules.expression_types",
                    f"expression {self.source!r} failed: {exc}; CEL never mixes int and double "
                    "arithmetic, so write 80.0 rather than 80 next to a decimal fact",
                    expression=self.source,
                    error=str(exc),
                ),
            ) from exc
        except (ValueError, RuntimeError, ArithmeticError) as exc:
            raise RuleSetError(
                self.file,
                self.key,
                Message(
                    "rules.expression_failed",
                    f"expression {self.source!r} failed: {exc}",
                    expression=self.source,
                    error=str(exc),
                ),
            ) from exc

    def number(self, context: Any, low: float, high: float | None = None) -> float:
        result = self.run(context)
        if isinstance(result, bool) or not isinstance(result, int | float):
            raise RuleSetError(
                self.file,
                self.key,
                Message(
                    "rules.expression_number",
                    f"expression {self.source!r} must give a number, got {result!r}",
                    expression=self.source,
                    value=shown(result),
                ),
            )
        value = float(result)
        too_low = value < low
        too_high = high is not None and value > high
        if math.isnan(value) or too_low or too_high:
            allowed = f"{low:g} to {high:g}" if high is not None else f"at least {low:g}"
            raise RuleSetError(
                self.file,
                self.key,
                Message(
                    "rules.expression_range",
                    f"expression {self.source!r} gave {result!r}; it must give {allowed}",
                    expression=self.source,
                    value=shown(result),
                    min=f"{low:g}",
                    max=None if high is None else f"{high:g}",
                ),
            )
        return value

    def boolean(self, context: Any) -> bool:
        result = self.run(context)
        if not isinstance(result, bool):
            raise RuleSetError(
                self.file,
                self.key,
                Message(
                    "rules.expression_boolean",
                    f"expression {self.source!r} must give true or false, got {result!r}",
                    expression=self.source,
                    value=shown(result),
                ),
            )
        return result


@dataclass(frozen=True)
class RatingRule:
    """A hard rule: when ``when`` holds, the client gets ``rating`` for ``reason``."""

    id: str
    when: _Expression
    rating: str
    reason: dict[str, str]


@dataclass(frozen=True)
class Indicator:
    """A scorecard line: ``score`` (0-100) of one ``fact``, counted at ``weight``; when
    ``applies`` is given and does not hold for a client (a natural person has no registered
    capital), the line is left out and the other weights are scaled up to sum to 1."""

    id: str
    fact: str
    weight: float
    score: _Expression
    applies: _Expression | None = None


@dataclass(frozen=True)
class Band:
    """Scores from ``min`` up to the next band's ``min`` get ``rating``."""

    rating: str
    min: float


@dataclass(frozen=True)
class CreditLimitPolicy:
    """``formula`` in yuan, capped at ``cap`` and rounded down to ``round_to``."""

    formula: _Expression
    multipliers: dict[str, float]
    cap: int
    round_to: int

    def amount(self, rating: str, score: float, facts: dict[str, Any]) -> int:
        """The limit of a client rated ``rating`` (not D) with ``score`` and ``facts``.

        Raises:
            RuleSetError: the formula failed or gave no amount of at least 0.
        """
        context = {
            "facts": facts,
            "rating": rating,
            "score": score,
            "multiplier": self.multipliers[rating],
        }
        amount = self.formula.number(context, 0.0)
        capped = min(amount, float(self.cap))
        return int(capped // self.round_to) * self.round_to


@dataclass(frozen=True)
class RatingResult:
    """The outcome of rating one client, with the explanation the screening shows."""

    rating: str
    score: float
    risk_level: str
    credit_limit: int
    fired_rules: list[dict[str, Any]]
    contributions: list[dict[str, Any]]
    decided_by: str
    rule_set: str
    rule_set_version: int
    facts: dict[str, Any]

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-able data (lists and dicts are copies)."""
        return {
            "rating": self.rating,
            "score": self.score,
            "risk_level": self.risk_level,
            "credit_limit": self.credit_limit,
            "fired_rules": [
                {"id": r["id"], "rating": r["rating"], "reason": dict(r["reason"])}
                for r in self.fired_rules
            ],
            "contributions": [dict(c) for c in self.contributions],
            "decided_by": self.decided_by,
            "rule_set": self.rule_set,
            "rule_set_version": self.rule_set_version,
            "facts": dict(self.facts),
        }


@dataclass(frozen=True, eq=False)
class RuleSet:
    """A loaded, validated rule set; immutable, so one instance serves every thread."""

    name: str
    version: int
    description: str
    source: str
    content_hash: str
    rating_rules: tuple[RatingRule, ...]
    indicators: tuple[Indicator, ...]
    bands: tuple[Band, ...]
    risk_levels: dict[str, str]
    credit_limit: CreditLimitPolicy

    def band_for(self, score: float) -> str:
        """The scorecard rating for ``score`` (the highest band whose ``min`` it reaches)."""
        for band in self.bands:
            if score >= band.min:
                return band.rating
        return self.bands[-1].rating  # unreachable: validation makes the last band start at 0

    def evaluate(self, facts: Mapping[str, Any]) -> RatingResult:
        """Rate a client from its facts.

        Raises:
            InvalidFactsError: the facts have unknown keys or wrong types.
            RuleSetError: an expression failed or gave a value of the wrong type.
        """
        normalized = normalize_facts(facts)
        # A Context converts the facts to CEL values once for all expressions.
        context = cel.Context(variables={"facts": normalized})
        fired: list[dict[str, Any]] = [
            {"id": rule.id, "rating": rule.rating, "reason": dict(rule.reason)}
            for rule in self.rating_rules
            if rule.when.boolean(context)
        ]
        contributions: list[dict[str, Any]] = []
        total = 0.0
        applicable = [i for i in self.indicators if i.applies is None or i.applies.boolean(context)]
        scale = sum(i.weight for i in applicable)
        if not applicable:
            raise RuleSetError(
                self.source,
                "scorecard.indicators",
                Message(
                    "rules.no_indicator",
                    f"no indicator applies to a client with client_type "
                    f"{normalized['client_type']!r}; give at least one without 'applies'",
                    client_type=shown(normalized["client_type"]),
                ),
            )
        for indicator in applicable:
            score = indicator.score.number(context, 0.0, 100.0)
            weight = indicator.weight / scale
            contribution = score * weight
            total += contribution
            contributions.append(
                {
                    "indicator": indicator.id,
                    "value": normalized[indicator.fact],
                    "score": score,
                    "weight": round(weight, 4),
                    "contribution": round(contribution, 4),
                }
            )
        # Weights sum to 1 only within float tolerance; keep the score in range.
        score = round(min(max(total, 0.0), 100.0), 1)
        if fired:
            rating, decided_by = fired[0]["rating"], "rule"
        else:
            rating, decided_by = self.band_for(score), "scorecard"
        return RatingResult(
            rating=rating,
            score=score,
            risk_level=self.risk_levels[rating],
            credit_limit=self._credit_limit(rating, score, normalized),
            fired_rules=fired,
            contributions=contributions,
            decided_by=decided_by,
            rule_set=self.name,
            rule_set_version=self.version,
            facts=normalized,
        )

    def _credit_limit(self, rating: str, score: float, facts: dict[str, Any]) -> int:
        # D means rejection whatever the formula says.
        if rating == "D":
            return 0
        return self.credit_limit.amount(rating, score, facts)


def load_rule_set(path: str | PathLike[str]) -> RuleSet:
    """Load and validate a rule set file.

    Raises:
        RuleSetError: the file cannot be read, is not valid YAML, or breaks the schema.
    """
    try:
        with open(path, "rb") as handle:
            data = handle.read()
    except OSError as exc:
        raise RuleSetError(str(path), "(file)", f"cannot read the rule set: {exc}") from exc
    return parse_rule_set(data, str(path))


def load_default_rule_set() -> RuleSet:
    """Load ``definitions/rules/default.yaml`` from the installed ``definitions`` package.

    Raises:
        RuleSetError: the shipped file is invalid.
    """
    resource = files("definitions") / "rules" / "default.yaml"
    return parse_rule_set(resource.read_bytes(), str(resource))


def parse_rule_set(data: bytes | str, source: str = "<string>") -> RuleSet:
    """Validate rule set YAML; ``source`` names the file in error messages.

    Raises:
        RuleSetError: not valid YAML, or the schema is broken (file and key named).
    """
    raw = data.encode("utf-8") if isinstance(data, str) else data
    return _Builder(source).build(raw)


def _compile(source: Any, file: str, key: str) -> _Expression:
    """Compile a CEL expression.

    Raises:
        RuleSetError: the value is not a string or does not parse.
    """
    if not isinstance(source, str) or not source.strip():
        raise RuleSetError(
            file,
            key,
            Message(
                "rules.expression_text",
                f"must be a CEL expression in quotes, got {source!r}",
                value=shown(source),
            ),
        )
    try:
        program = cel.compile(source)
    except (ValueError, RuntimeError) as exc:
        raise RuleSetError(
            file,
            key,
            Message(
                "rules.expression_parse",
                f"expression does not parse: {exc}; fix the CEL syntax",
                expression=source,
                error=str(exc),
            ),
        ) from exc
    return _Expression(source=source, file=file, key=key, program=program)


def _check_variables(expression: _Expression, allowed: frozenset[str]) -> None:
    bound = set(_MACRO_VARIABLE.findall(expression.source))
    unknown = sorted(set(expression.program.variables()) - allowed - bound)
    if unknown:
        raise RuleSetError(
            expression.file,
            expression.key,
            Message(
                "rules.expression_names",
                f"expression {expression.source!r} uses unknown name(s) {', '.join(unknown)}; "
                f"it may use {', '.join(sorted(allowed))}",
                expression=expression.source,
                names=unknown,
                allowed=sorted(allowed),
            ),
        )


def _content_hash(data: bytes) -> str:
    return hashlib.sha256(data).hexdigest()


class _UniqueKeyLoader(yaml.SafeLoader):
    """A safe loader that refuses duplicate keys, which PyYAML would silently overwrite."""


def _construct_unique_mapping(loader: _UniqueKeyLoader, node: yaml.MappingNode) -> dict[Any, Any]:
    seen: set[Any] = set()
    for key_node, _ in node.value:
        key = loader.construct_object(key_node)
        if not isinstance(key, Hashable):
            continue  # construct_mapping reports unhashable keys itself
        if key in seen:
            raise yaml.constructor.ConstructorError(
                None, None, f"duplicate key {key!r}", key_node.start_mark
            )
        seen.add(key)
    return loader.construct_mapping(node)


_UniqueKeyLoader.add_constructor(
    yaml.resolver.BaseResolver.DEFAULT_MAPPING_TAG, _construct_unique_mapping
)


class _Builder:
    """Validates the parsed YAML key by key; every error names the file and the key path.

    Every problem of a document is found in one pass: each part (a section, a rating rule,
    an indicator, a band, a field of them) is checked on its own and its problems are
    noted in ``problems``, so one mistake does not hide the next; ``build`` then raises
    one error holding them all (``RuleSetError.problems``). A part with a problem is left
    out of the checks that need it whole (duplicate ids, the order of the bands, the
    probes on sample facts), so no problem is a mere echo of another; a check that needs
    only one field of each part runs whenever that field is sound (the weights' sum
    needs every weight, not every score expression).
    """

    error_type: type[RuleSetError] = RuleSetError

    def __init__(self, file: str) -> None:
        self.file = file
        self.problems: list[DefinitionError] = []

    def error(self, key: str, message: str) -> RuleSetError:
        return self.error_type(self.file, key, message)

    def failure(self) -> DefinitionError:
        """One error for every problem noted (the builder found at least one)."""
        return self.error_type.collected(self.problems)

    def attempt(self, check: Callable[[], _T]) -> _T | None:
        """``check()``; None, with its problems noted, when it raises."""
        try:
            return check()
        except RuleSetError as exc:
            self.problems.extend(exc.problems)
            return None

    def field(self, spec: Mapping[str, Any], name: str, check: Callable[[Any], _T]) -> _T | None:
        """``check(spec[name])``; None when the key is absent or its check failed (noted)."""
        if name not in spec:
            return None
        return self.attempt(lambda: check(spec[name]))

    def _shape(
        self,
        value: Mapping[str, Any],
        key: str,
        required: tuple[str, ...],
        optional: tuple[str, ...],
    ) -> list[DefinitionError]:
        prefix = f"{key}." if key else ""
        found: list[DefinitionError] = [
            self.error(
                f"{prefix}{k}",
                Message(
                    "rules.unknown_key",
                    f"unknown key; allowed here: {', '.join(required + optional)}",
                    allowed=[*required, *optional],
                ),
            )
            for k in value
            if k not in required and k not in optional
        ]
        found += [
            self.error(f"{prefix}{name}", Message("config.required", "missing required key"))
            for name in required
            if name not in value
        ]
        return found

    def _not_mapping(self, value: Any, key: str) -> RuleSetError:
        return self.error(
            key or "(document)",
            Message("rules.mapping", f"must be a mapping, got {value!r}", value=shown(value)),
        )

    def mapping(
        self, value: Any, key: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> Mapping[str, Any]:
        """``value`` when it is a mapping with the keys allowed here; raises with every
        unknown and missing key otherwise."""
        if not isinstance(value, Mapping):
            raise self._not_mapping(value, key)
        found = self._shape(value, key, required, optional)
        if found:
            raise self.error_type.collected(found)
        return value

    def part(
        self, value: Any, key: str, required: tuple[str, ...], optional: tuple[str, ...] = ()
    ) -> Mapping[str, Any] | None:
        """Like :meth:`mapping`, but the unknown and missing keys are noted and the mapping
        is still returned, so its other keys are checked too; None when not a mapping."""
        if not isinstance(value, Mapping):
            self.problems.append(self._not_mapping(value, key))
            return None
        self.problems += self._shape(value, key, required, optional)
        return value

    def items(self, value: Any, key: str) -> list[Any]:
        if not isinstance(value, list) or not value:
            raise self.error(
                key,
                Message(
                    "rules.list", f"must be a non-empty list, got {value!r}", value=shown(value)
                ),
            )
        return value

    def text(self, value: Any, key: str) -> str:
        if not isinstance(value, str) or not value.strip():
            raise self.error(
                key,
                Message("rules.text", f"must be non-empty text, got {value!r}", value=shown(value)),
            )
        return value

    def number(self, value: Any, key: str, low: float, high: float | None = None) -> float:
        if (
            isinstance(value, bool)
            or not isinstance(value, int | float)
            or not math.isfinite(value)
        ):
            raise self.error(
                key, Message("rules.number", f"must be a number, got {value!r}", value=shown(value))
            )
        if value < low or (high is not None and value > high):
            upper = "" if high is None else f" and at most {high:g}"
            raise self.error(
                key,
                Message(
                    "rules.range" if high is not None else "rules.at_least",
                    f"must be at least {low:g}{upper}, got {value!r}",
                    value=f"{value:g}",
                    min=f"{low:g}",
                    max=None if high is None else f"{high:g}",
                ),
            )
        return float(value)

    def rating(self, value: Any, key: str) -> str:
        if value not in RATINGS:
            raise self.error(
                key,
                Message(
                    "rules.rating",
                    f"unknown rating {value!r}; use one of {', '.join(RATINGS)}",
                    value=shown(value),
                    allowed=list(RATINGS),
                ),
            )
        return str(value)

    def per_rating(self, value: Any, key: str) -> Mapping[str, Any]:
        """A mapping from every rating letter; raises with every unknown and missing letter."""
        if not isinstance(value, Mapping):
            raise self._not_mapping(value, key)
        found: list[DefinitionError] = []
        for letter in value:
            try:
                self.rating(letter, f"{key}.{letter}")
            except RuleSetError as exc:
                found += exc.problems
        found += [p for p in self._shape(value, key, RATINGS, ()) if p.code == "config.required"]
        if found:
            raise self.error_type.collected(found)
        return value

    def expression(self, value: Any, key: str, variables: frozenset[str]) -> _Expression:
        expression = _compile(value, self.file, key)
        _check_variables(expression, variables)
        return expression

    def load(self, data: bytes) -> Any:
        try:
            return yaml.load(data, Loader=_UniqueKeyLoader)
        except yaml.YAMLError as exc:
            raise self.error("(document)", f"not valid YAML: {exc}") from exc

    def version(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(
                "version",
                Message(
                    "config.version",
                    f"must be a whole number from 1, got {value!r}",
                    value=shown(value),
                ),
            )
        return value

    def build(self, data: bytes) -> RuleSet:
        """The rule set of ``data``.

        Raises:
            RuleSetError: every problem found (``problems``), the first one's key named.
        """
        top = self.part(
            self.load(data),
            "",
            ("name", "version", "rating_rules", "scorecard", "risk_levels", "credit_limit"),
            ("description",),
        )
        if top is None:
            raise self.failure()
        version = self.field(top, "version", self.version)
        risk_levels = self.field(top, "risk_levels", self.risk_levels)
        name = self.field(top, "name", lambda v: self.text(v, "name"))
        rating_rules = self.rating_rules(top["rating_rules"]) if "rating_rules" in top else ()
        indicators: tuple[Indicator, ...] = ()
        bands: tuple[Band, ...] = ()
        indicators_whole = False
        if "scorecard" in top:
            scorecard = self.part(top["scorecard"], "scorecard", ("indicators", "bands"))
            if scorecard is not None:
                if "indicators" in scorecard:
                    before = len(self.problems)
                    indicators = self.indicators(scorecard["indicators"])
                    indicators_whole = len(self.problems) == before
                if "bands" in scorecard:
                    bands = self.bands(scorecard["bands"])
        credit_limit = self.credit_limit(top["credit_limit"]) if "credit_limit" in top else None
        # the valid parts are tried on sample facts even when another part is broken
        self.probe(rating_rules, indicators, indicators_whole, credit_limit)
        if (
            self.problems
            or version is None
            or risk_levels is None
            or name is None
            or credit_limit is None
        ):
            raise self.failure()
        rule_set = RuleSet(
            name=name,
            version=version,
            description=str(top.get("description") or ""),
            source=self.file,
            content_hash=_content_hash(data),
            rating_rules=rating_rules,
            indicators=indicators,
            bands=bands,
            risk_levels=risk_levels,
            credit_limit=credit_limit,
        )
        return rule_set

    def risk_levels(self, value: Any) -> dict[str, str]:
        letters = self.per_rating(value, "risk_levels")
        found: list[DefinitionError] = [
            self.error(
                f"risk_levels.{letter}",
                Message(
                    "rules.risk_level",
                    f"must be one of {', '.join(RISK_LEVELS)}, got {level!r}",
                    value=shown(level),
                    allowed=list(RISK_LEVELS),
                ),
            )
            for letter, level in letters.items()
            if level not in RISK_LEVELS
        ]
        if found:
            raise self.error_type.collected(found)
        return dict(letters)

    def rating_rules(self, value: Any) -> tuple[RatingRule, ...]:
        """The rules of a valid list; each broken rule's problems are noted, and it is
        left out of the duplicate-id check."""
        listed = self.attempt(lambda: self.items(value, "rating_rules")) or []
        rules: list[RatingRule] = []
        for index, item in enumerate(listed):
            rule = self.rating_rule(item, f"rating_rules[{index}]")
            if rule is None:
                continue
            if any(existing.id == rule.id for existing in rules):
                self.problems.append(
                    self.error(
                        f"rating_rules[{index}].id",
                        Message("rules.duplicate_id", f"duplicate rule id {rule.id!r}", id=rule.id),
                    )
                )
            rules.append(rule)
        return tuple(rules)

    def rating_rule(self, item: Any, key: str) -> RatingRule | None:
        before = len(self.problems)
        rule = self.part(item, key, ("id", "when", "rating", "reason"))
        if rule is None:
            return None
        rule_id = self.field(rule, "id", lambda v: self.text(v, f"{key}.id"))
        when = self.field(
            rule, "when", lambda v: self.expression(v, f"{key}.when", frozenset({"facts"}))
        )
        rating = self.field(rule, "rating", partial(self.rating, key=f"{key}.rating"))
        reason = self.field(rule, "reason", lambda v: self.reason(v, f"{key}.reason"))
        if len(self.problems) > before or rule_id is None or when is None:
            return None
        if rating is None or reason is None:
            return None
        return RatingRule(id=rule_id, when=when, rating=rating, reason=reason)

    def reason(self, value: Any, key: str) -> dict[str, str]:
        spec = self.mapping(value, key, ("zh-CN", "en"))
        found: list[DefinitionError] = []
        reason: dict[str, str] = {}
        for lang, text in spec.items():
            try:
                reason[lang] = self.text(text, f"{key}.{lang}")
            except RuleSetError as exc:
                found += exc.problems
        if found:
            raise self.error_type.collected(found)
        return reason

    def indicators(self, value: Any) -> tuple[Indicator, ...]:
        """The indicators of a valid list; the weights' sum is checked when every
        indicator's weight is valid (a broken score or fact does not hide it, issue 18)."""
        listed = self.attempt(lambda: self.items(value, "scorecard.indicators"))
        indicators: list[Indicator] = []
        weights: list[float] = []
        for index, item in enumerate(listed or []):
            indicator, weight = self.indicator(item, f"scorecard.indicators[{index}]")
            if weight is not None:
                weights.append(weight)
            if indicator is None:
                continue
            if any(existing.id == indicator.id for existing in indicators):
                self.problems.append(
                    self.error(
                        f"scorecard.indicators[{index}].id",
                        Message(
                            "rules.duplicate_indicator",
                            f"duplicate indicator id {indicator.id!r}",
                            id=indicator.id,
                        ),
                    )
                )
            indicators.append(indicator)
        total = sum(weights)
        every_weight = listed is not None and len(weights) == len(listed)
        if every_weight and not math.isclose(total, 1.0, abs_tol=1e-6):
            self.problems.append(
                self.error(
                    "scorecard.indicators",
                    Message(
                        "rules.weights_sum",
                        f"weights must sum to 1, they sum to {total:g}; adjust the weight values",
                        total=f"{total:g}",
                    ),
                )
            )
        return tuple(indicators)

    def indicator(self, item: Any, key: str) -> tuple[Indicator | None, float | None]:
        """The indicator (None when it has a problem) and its weight (None when the
        weight itself is missing or invalid)."""
        before = len(self.problems)
        spec = self.part(item, key, ("id", "weight", "score"), ("fact", "applies"))
        if spec is None:
            return None, None
        facts = frozenset({"facts"})
        indicator_id = self.field(spec, "id", lambda v: self.text(v, f"{key}.id"))
        fact = spec.get("fact", indicator_id)
        if ("fact" in spec or indicator_id is not None) and fact not in FACT_DEFAULTS:
            self.problems.append(
                self.error(
                    f"{key}.fact" if "fact" in spec else f"{key}.id",
                    Message(
                        "rules.fact",
                        f"{fact!r} is not a fact; name one of {', '.join(FACT_DEFAULTS)} "
                        "(with 'fact:' when the id differs)",
                        fact=shown(fact),
                        facts=list(FACT_DEFAULTS),
                    ),
                )
            )
        weight = self.field(spec, "weight", lambda v: self.weight(v, f"{key}.weight"))
        score = self.field(spec, "score", lambda v: self.expression(v, f"{key}.score", facts))
        applies = self.field(spec, "applies", lambda v: self.expression(v, f"{key}.applies", facts))
        if len(self.problems) > before or indicator_id is None:
            return None, weight
        if weight is None or score is None:
            return None, weight
        return Indicator(
            id=indicator_id, fact=str(fact), weight=weight, score=score, applies=applies
        ), weight

    def weight(self, value: Any, key: str) -> float:
        weight = self.number(value, key, 0.0, 1.0)
        if weight == 0:
            raise self.error(
                key, Message("rules.weight_zero", "must be above 0; remove the indicator instead")
            )
        return weight

    def bands(self, value: Any) -> tuple[Band, ...]:
        """The bands of a valid list; their order and floor are checked when every band
        is valid."""
        before = len(self.problems)
        listed = self.attempt(lambda: self.items(value, "scorecard.bands")) or []
        bands: list[Band] = []
        for index, item in enumerate(listed):
            key = f"scorecard.bands[{index}]"
            spec = self.part(item, key, ("rating", "min"))
            if spec is None:
                continue
            rating = self.field(spec, "rating", partial(self.rating, key=f"{key}.rating"))
            low = self.field(
                spec, "min", partial(self.number, key=f"{key}.min", low=0.0, high=100.0)
            )
            if rating is not None and low is not None:
                bands.append(Band(rating=rating, min=low))
        if len(self.problems) > before or not bands:
            return tuple(bands)
        for index, (higher, band) in enumerate(zip(bands, bands[1:], strict=False), start=1):
            if band.min >= higher.min:
                self.problems.append(
                    self.error(
                        f"scorecard.bands[{index}].min",
                        Message(
                            "rules.bands_order",
                            f"bands must be listed from the highest min down; {band.min:g} "
                            f"follows {higher.min:g}",
                            min=f"{band.min:g}",
                            previous=f"{higher.min:g}",
                        ),
                    )
                )
        if bands[-1].min != 0:
            self.problems.append(
                self.error(
                    f"scorecard.bands[{len(bands) - 1}].min",
                    Message(
                        "rules.bands_floor",
                        f"scores from 0 to below {bands[-1].min:g} fall in no band; "
                        "the lowest band must have min: 0",
                        min=f"{bands[-1].min:g}",
                    ),
                )
            )
        return tuple(bands)

    def credit_limit(self, value: Any) -> CreditLimitPolicy | None:
        before = len(self.problems)
        spec = self.part(value, "credit_limit", ("formula", "multipliers", "cap"), ("round_to",))
        if spec is None:
            return None
        multipliers = self.field(spec, "multipliers", self.multipliers)
        cap = self.field(spec, "cap", lambda v: self.number(v, "credit_limit.cap", 0.0))
        round_to = self.attempt(lambda: self.round_to(spec.get("round_to", 1)))
        formula = self.field(
            spec,
            "formula",
            lambda v: self.expression(
                v, "credit_limit.formula", frozenset({"facts", "rating", "score", "multiplier"})
            ),
        )
        if len(self.problems) > before or multipliers is None or cap is None:
            return None
        if round_to is None or formula is None:
            return None
        return CreditLimitPolicy(
            formula=formula, multipliers=multipliers, cap=int(cap), round_to=round_to
        )

    def multipliers(self, value: Any) -> dict[str, float]:
        key = "credit_limit.multipliers"
        letters = self.per_rating(value, key)
        found: list[DefinitionError] = []
        multipliers: dict[str, float] = {}
        for letter, m in letters.items():
            try:
                multipliers[letter] = self.number(m, f"{key}.{letter}", 0.0)
            except RuleSetError as exc:
                found += exc.problems
        if found:
            raise self.error_type.collected(found)
        return multipliers

    def round_to(self, value: Any) -> int:
        if isinstance(value, bool) or not isinstance(value, int) or value < 1:
            raise self.error(
                "credit_limit.round_to",
                Message(
                    "rules.round_to",
                    f"must be a whole number of yuan from 1, got {value!r}",
                    value=shown(value),
                ),
            )
        return value

    def probe(
        self,
        rating_rules: tuple[RatingRule, ...],
        indicators: tuple[Indicator, ...],
        indicators_whole: bool,
        credit_limit: CreditLimitPolicy | None,
    ) -> None:
        """Evaluate every expression of the valid parts on the sample facts (the formula
        for each rating); the first failure of each expression is noted. Whether some
        indicator applies to every sample client is asked only of a whole, working list."""
        contexts = [cel.Context(variables={"facts": normalize_facts(f)}) for f in _PROBES]
        for rule in rating_rules:
            self.attempt(partial(_each, rule.when.boolean, contexts))
        working = indicators_whole
        for indicator in indicators:
            if indicator.applies is not None:
                applies = self.attempt(partial(_each, indicator.applies.boolean, contexts))
                working = working and applies is not None
            score = partial(indicator.score.number, low=0.0, high=100.0)
            self.attempt(partial(_each, score, contexts))
        for facts, context in zip(_PROBES, contexts, strict=True):
            if working and not any(
                i.applies is None or i.applies.boolean(context) for i in indicators
            ):
                self.problems.append(
                    self.error(
                        "scorecard.indicators",
                        Message(
                            "rules.no_indicator",
                            f"no indicator applies to a client with client_type "
                            f"{facts['client_type']!r}; give at least one without 'applies'",
                            client_type=shown(facts["client_type"]),
                        ),
                    )
                )
                break
        if credit_limit is not None:
            self.attempt(
                lambda: [
                    credit_limit.amount(rating, 50.0, normalize_facts(facts))
                    for facts in _PROBES
                    for rating in RATINGS[:-1]
                ]
            )


def _each(check: Callable[[Any], Any], contexts: list[Any]) -> list[Any]:
    """``check`` on every sample context (the first failure raises)."""
    return [check(context) for context in contexts]
