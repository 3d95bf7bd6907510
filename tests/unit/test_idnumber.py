"""Resident identity numbers (GB 11643-1999): the check character, what a bad number is
told, normalisation."""

from __future__ import annotations

import pytest

from workflow.risk.clients.idnumber import (
    check_character,
    make_id_number,
    normalize_id_number,
    validate_id_number,
)


@pytest.mark.parametrize(
    ("first17", "check"),
    [
        ("11010519491231002", "X"),  # the standard's own example
        ("44052418800101001", "4"),
        ("11010119900307001", "1"),
    ],
)
def test_the_check_character_follows_iso_7064_mod_11_2(first17: str, check: str) -> None:
    assert check_character(first17) == check
    assert validate_id_number(first17 + check) is None


def test_a_lower_case_x_spaces_and_hyphens_are_accepted() -> None:
    assert normalize_id_number(" 110105-19491231 002x ") == "11010519491231002X"
    assert validate_id_number("11010519491231002x") is None


@pytest.mark.parametrize(
    ("number", "code"),
    [
        ("11010519491231002", "id_number.length"),
        ("1101051949123100X2", "id_number.alphabet"),
        ("110105194913310024", "id_number.birth_date"),
        ("110105194912310021", "id_number.check"),
    ],
)
def test_a_bad_number_is_told_what_is_wrong(number: str, code: str) -> None:
    problem = validate_id_number(number)
    assert problem is not None and problem.code == code


def test_the_check_message_names_the_expected_character() -> None:
    problem = validate_id_number("110105194912310021")
    assert problem is not None
    assert (problem.params["given"], problem.params["expected"]) == ("1", "X")
    assert make_id_number("11010519491231002") == "11010519491231002X"
