"""Checking that a rule's reason or title does not contradict the numbers of its condition.

A reason such as "国有持股比例超过 80%" explains ``facts.state_ownership_pct > 80.0``; when
the condition moves to ``> 70.0`` (or ``> 0.7`` written as a share) and the reason still
says 80 %, readers are told something false. Every percentage a reason text names must
be one of the condition's numbers, read either as a percentage (``80.0``) or as a share
(``0.8``).

A monitoring rule's title says what its match counts ("90 天内涉诉 3 次及以上", "Three or
more lawsuits within 90 days"): every number its title names (digits, English number
words one to twelve, a Chinese numeral before 次, 天, 日 or 分) must be one of the rule's
numbers (its threshold's count and days, its score drop's points and days, the numbers
of its ``when`` condition and of its keywords), so changing a count keeps no stale title.
"""

from __future__ import annotations

import math
import re
from collections.abc import Iterable, Iterator, Mapping
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


def _texts(rules: Any, field: str, source: str, kind: type) -> Iterator[tuple[int, Any, str, str]]:
    """``(index, the rule's source, language, text)`` for each text of ``field`` (a mapping
    of language to text) of each rule whose ``source`` is a ``kind``; malformed parts are
    left to the validators."""
    if not isinstance(rules, list):
        return
    for index, rule in enumerate(rules):
        if not isinstance(rule, Mapping):
            continue
        texts, origin = rule.get(field), rule.get(source)
        if not isinstance(texts, Mapping) or not isinstance(origin, kind):
            continue
        for lang, text in texts.items():
            if isinstance(text, str):
                yield index, origin, lang, text


def reason_conflicts(rules: Any) -> list[tuple[str, str]]:
    """``(key, message)`` for every reason text naming a percentage its rule's condition
    does not have; ``rules`` is the ``rating_rules`` list of a rule-set document."""
    problems: list[tuple[str, str]] = []
    for index, when, lang, text in _texts(rules, "reason", "when", str):
        numbers = condition_numbers(when)
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


# Numbers written in digits ("3", "90", "1.5", "1,000,000"), not parts of longer numbers.
_DIGITS = re.compile(r"(?<![\d.,])(\d{1,3}(?:,\d{3})+(?:\.\d+)?|\d+(?:\.\d+)?)(?![\d.]*\d)")
_WORDS = {
    word: float(n)
    for n, word in enumerate(
        [
            "zero",
            "one",
            "two",
            "three",
            "four",
            "five",
            "six",
            "seven",
            "eight",
            "nine",
            "ten",
            "eleven",
            "twelve",
        ]
    )
}
_ENGLISH = re.compile(r"\b(" + "|".join(_WORDS) + r")\b", re.IGNORECASE)
_HAN = {h: float(n) for n, h in enumerate("零一二三四五六七八九十")}
_CHINESE = re.compile(r"([一二三四五六七八九十])\s*(?:次|天|日|分)")


def title_numbers(text: str) -> list[float]:
    """The numbers a title names: digits, English number words and counted Chinese numerals."""
    return (
        [float(m.replace(",", "")) for m in _DIGITS.findall(text)]
        + [_WORDS[m.casefold()] for m in _ENGLISH.findall(text)]
        + [_HAN[m] for m in _CHINESE.findall(text)]
    )


def _numbers_of(value: Any, names: tuple[str, ...]) -> list[float]:
    if not isinstance(value, Mapping):
        return []
    return [
        float(value[name])
        for name in names
        if isinstance(value.get(name), int | float) and not isinstance(value.get(name), bool)
    ]


def _rule_numbers(match: Mapping[str, Any]) -> list[float]:
    numbers = _numbers_of(match.get("threshold"), ("count", "days"))
    numbers += _numbers_of(match.get("score_drop"), ("points", "days"))
    if isinstance(match.get("when"), str):
        numbers += condition_numbers(match["when"])
    keywords = match.get("keywords")
    if isinstance(keywords, Mapping):
        for words in keywords.values():
            for word in words if isinstance(words, list) else ():
                if isinstance(word, str):
                    numbers += title_numbers(word)
    return numbers


def title_conflicts(rules: Any) -> list[tuple[str, str]]:
    """``(key, message)`` for every monitoring rule title naming a number the rule does not
    have; ``rules`` is the ``rules`` list of a monitoring document."""
    problems: list[tuple[str, str]] = []
    for index, match, lang, text in _texts(rules, "title", "match", Mapping):
        numbers = _rule_numbers(match)
        shown = [f"{n:g}" for n in numbers]
        for number in title_numbers(text):
            if not any(math.isclose(number, n, abs_tol=1e-9) for n in numbers):
                problems.append(
                    (
                        f"rules[{index}].title.{lang}",
                        Message(
                            "config.title_number",
                            f"says {number:g} but the rule counts with the numbers "
                            f"{', '.join(shown) or 'none'}; make the title say what the "
                            "rule checks",
                            number=f"{number:g}",
                            numbers=shown,
                        ),
                    )
                )
    return problems
