"""Resident identity numbers (公民身份号码), GB 11643-1999.

An identity number is 18 characters: address code (6 digits), date of birth
(8 digits, ``YYYYMMDD``), order code (3 digits) and a check character (a digit
or ``X``) computed over the first 17 with ISO 7064 MOD 11-2.
"""

from __future__ import annotations

from datetime import date

from workflow.errors import Message

LENGTH = 18
WEIGHTS = (7, 9, 10, 5, 8, 4, 2, 1, 6, 3, 7, 9, 10, 5, 8, 4, 2)
CHECK_CHARACTERS = "10X98765432"


def normalize_id_number(value: str) -> str:
    """Spaces and hyphens removed, upper-cased (a lower-case ``x`` is the check ``X``)."""
    return "".join(ch for ch in value.strip() if ch not in " -").upper()


def check_character(first17: str) -> str:
    """The GB 11643-1999 check character of the first 17 digits.

    Raises:
        ValueError: ``first17`` is not 17 digits.
    """
    if len(first17) != LENGTH - 1 or not first17.isdigit():
        raise ValueError("need the first 17 digits of an identity number")
    total = sum(int(digit) * weight for digit, weight in zip(first17, WEIGHTS, strict=True))
    return CHECK_CHARACTERS[total % 11]


def validate_id_number(value: str) -> str | None:
    """Check ``value`` (normalised first); None when valid, else what is wrong and how to fix it."""
    if not isinstance(value, str):
        return Message("id_number.type", "an identity number must be text")
    number = normalize_id_number(value)
    if len(number) != LENGTH:
        return Message(
            "id_number.length",
            f"a resident identity number has 18 characters, this one has {len(number)}; "
            "copy it again from the identity card",
            length=len(number),
        )
    if not number[:17].isdigit() or not (number[17].isdigit() or number[17] == "X"):
        return Message(
            "id_number.alphabet",
            "an identity number is 17 digits followed by a digit or X",
        )
    try:
        date(int(number[6:10]), int(number[10:12]), int(number[12:14]))
    except ValueError:
        return Message(
            "id_number.birth_date",
            f"characters 7-14 are the date of birth (YYYYMMDD) and {number[6:14]!r} is no date",
            birth=number[6:14],
        )
    expected = check_character(number[:17])
    if number[17] != expected:
        return Message(
            "id_number.check",
            f"check character (the 18th) is {number[17]!r} but the first 17 digits require "
            f"{expected!r}; one of the digits is probably mistyped",
            given=number[17],
            expected=expected,
        )
    return None


def make_id_number(first17: str) -> str:
    """Complete 17 digits with their check character (test data, demo data).

    Raises:
        ValueError: ``first17`` is not 17 digits.
    """
    return first17 + check_character(first17)
