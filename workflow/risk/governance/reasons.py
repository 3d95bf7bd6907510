"""Checking that a rule's reason does not contradict the numbers of its condition.

A reason such as "国有持股比例超过 80%" explains ``facts.state_ownership_pct > 80.0``; when
the condition moves to ``> 70.0`` (or ``> 0.7`` written as a share) and the reason still
says 80 %, readers are told something false. Every percentage a reason text names must
be one of the condition's numbers, read either as a percentage (``80.0``) or as a share
(``0.8``).
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Mapping
from typing import Any

from workflow.errors import Message

# "80%", "80 %", "80.5％" (full-width), "百分之八十" is not looked for.
_PERCENT = re.compile(r"(\d+(?:\.\d+)?)\s*[%％]")
# Numeric literals of a CEL expression (not digits inside names such as ``v2``).
_NUMBER = re.compile(r"(?<![\w.])(\d+(?:\.\d+)?)(?![\w.])")


def percentages(text: str) -> list[float]:
    return [float(m) for m in _PERCENT.findall(text)]


def condition_numbers(expression: str) -> list[float]:
    # Strings in the expression ('central_soe') are not numbers of the condition.
    bare = re.sub(r"'[^']*'|\"[^\"]*\"", "", expression)
    return [float(m) for m in _NUMBER.findall(bare)]


def _explains(percent: float, numbers: Iterable[float]) -> bool:
    return any(
        math.isclose(percent, n, abs_tol=1e-9) or math.isclose(percent, n * 100, abs_tol=1e-9)
        for n in numbers
    )


def reason_conflicts(rules: Any) -> list[tuple[str, str]]:
    """``(key, message)`` for every reason text naming a percentage its rule's condition
    does not have; ``rules`` is the ``rating_rules`` list of a rule-set document."""
    if not isinstance(rules, list):
        return []
    problems: list[tuple[str, str]] = []
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        when, reason = rule.get("when"), rule.get("reason")
        if not isinstance(when, str) or not isinstance(reason, Mapping):
            continue
        numbers = condition_numbers(when)
        for lang, text in reason.items():
            if not isinstance(text, str):
                continue
            for percent in percentages(text):
                if not _explains(percent, numbers):
                    shown = ", ".join(f"{n:g}" for n in numbers) or "none"
                    problems.append(
                        (
                            f"rating_rules[{index}].reason.{lang}",
                            Message(
                                "config.reason_percent",
                                f"says {percent:g} % but the condition {when!r} has the numbers "
                                f"{shown}; make the reason say what the condition checks",
                                percent=f"{percent:g}",
                                condition=when,
                                numbers=[f"{n:g}" for n in numbers],
                            ),
                        )
                    )
    return problems
