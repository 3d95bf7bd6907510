"""Unified social credit codes (统一社会信用代码), GB 32100-2015.

A code is 18 characters from a 31-character alphabet: registration authority
(1), organisation type (1), administrative division (6 digits), organisation
code (9), and a check character computed over the first 17.
"""

from __future__ import annotations

from workflow.errors import Message

ALPHABET = "0123456789ABCDEFGHJKLMNPQRTUWXY"
WEIGHTS = (1, 3, 9, 27, 19, 26, 16, 17, 20, 29, 25, 13, 8, 24, 10, 30, 28)
LENGTH = 18

_INDEX = {char: i for i, char in enumerate(ALPHABET)}
# The letters the standard leaves out are easily misread for digits; naming the
# likely intended character turns a rejection into a fix.
_LOOKALIKES = {"I": "1", "O": "0", "Z": "2", "S": "5", "V": "U"}


def normalize_credit_code(code: str) -> str:
    """Strip surrounding whitespace and upper-case ``code``."""
    return code.strip().upper()


def _alphabet_problem(chars: str) -> str | None:
    for position, char in enumerate(chars, start=1):
        if char in _INDEX:
            continue
        hint = _LOOKALIKES.get(char)
        if hint is not None:
            return Message(
                "credit_code.lookalike",
                f"character {position} is {char!r}, which credit codes never use "
                f"(I, O, Z, S and V are excluded); did you mean {hint!r}?",
                position=position,
                char=char,
                hint=hint,
            )
        return Message(
            "credit_code.alphabet",
            f"character {position} is {char!r}; credit codes use only digits and "
            f"the letters {ALPHABET[10:]}",
            position=position,
            char=char,
            letters=ALPHABET[10:],
        )
    return None


def check_character(first17: str) -> str:
    """The GB 32100-2015 check character for the first 17 characters of a code.

    Raises:
        ValueError: ``first17`` is not 17 characters from the credit-code alphabet.
    """
    if len(first17) != LENGTH - 1:
        raise ValueError(f"need the first 17 characters of a credit code, got {len(first17)}")
    problem = _alphabet_problem(first17)
    if problem is not None:
        raise ValueError(problem)
    total = sum(_INDEX[char] * weight for char, weight in zip(first17, WEIGHTS, strict=True))
    return ALPHABET[(31 - total % 31) % 31]


def validate_credit_code(code: str) -> str | None:
    """Check ``code`` (normalised first); None when valid, else what is wrong and how to fix it."""
    if not isinstance(code, str):
        return Message("credit_code.type", f"a credit code must be text, got {type(code).__name__}")
    normalized = normalize_credit_code(code)
    if len(normalized) != LENGTH:
        return Message(
            "credit_code.length",
            f"a unified social credit code has 18 characters, this one has {len(normalized)}; "
            "copy it again from the business licence",
            length=len(normalized),
        )
    problem = _alphabet_problem(normalized)
    if problem is not None:
        return problem
    division = normalized[2:8]
    if not division.isdigit():
        return Message(
            "credit_code.division",
            f"characters 3-8 are the administrative division code and must be digits, "
            f"got {division!r}",
            division=division,
        )
    expected = check_character(normalized[:17])
    if normalized[17] != expected:
        return Message(
            "credit_code.check",
            f"check character (the 18th) is {normalized[17]!r} but the first 17 characters "
            f"require {expected!r}; one of the characters is probably mistyped",
            given=normalized[17],
            expected=expected,
        )
    return None


def is_valid_credit_code(code: str) -> bool:
    """True when ``code`` (normalised first) is a well-formed credit code."""
    return validate_credit_code(code) is None


def make_credit_code(first17: str) -> str:
    """Complete ``first17`` (normalised first) with its check character.

    Raises:
        ValueError: ``first17`` is not 17 valid characters or characters 3-8 are not digits.
    """
    normalized = normalize_credit_code(first17)
    check = check_character(normalized)
    if not normalized[2:8].isdigit():
        raise ValueError("characters 3-8 are the administrative division code and must be digits")
    return normalized + check
