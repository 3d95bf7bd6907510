import pytest
from hypothesis import given
from hypothesis import strategies as st

from workflow.risk.clients.creditcode import (
    ALPHABET,
    check_character,
    is_valid_credit_code,
    make_credit_code,
    normalize_credit_code,
    validate_credit_code,
)

REAL_CODE = "91350100M000100Y43"


def test_a_real_published_code_is_valid():
    assert validate_credit_code(REAL_CODE) is None
    assert is_valid_credit_code(REAL_CODE)


def test_check_character_of_a_real_code():
    assert check_character(REAL_CODE[:17]) == "3"


def test_a_check_sum_of_zero_maps_to_the_character_zero():
    # "00000000000000000": every index is 0, so 31 - 0 = 31, which the standard maps to 0.
    assert check_character("0" * 17) == "0"
    assert is_valid_credit_code("0" * 18)


def test_a_wrong_check_character_is_reported_with_the_expected_one():
    message = validate_credit_code(REAL_CODE[:17] + "4")
    assert message is not None
    assert "'3'" in message
    assert "18th" in message


def test_a_single_mistyped_character_is_detected():
    mistyped = "91350100M000200Y43"
    assert not is_valid_credit_code(mistyped)


@pytest.mark.parametrize("code", ["", "91350100M000100Y4", "91350100M000100Y433"])
def test_a_code_of_the_wrong_length_is_refused(code):
    message = validate_credit_code(code)
    assert message is not None
    assert "18 characters" in message


@pytest.mark.parametrize(
    ("code", "hint"),
    [
        ("91350100M0001OOY43", "'0'"),
        ("91350100M000100I43", "'1'"),
        ("91350100S000100Y43", "'5'"),
        ("91350100Z000100Y43", "'2'"),
        ("91350100V000100Y43", "'U'"),
    ],
)
def test_forbidden_letters_are_refused_with_the_likely_intended_character(code, hint):
    message = validate_credit_code(code)
    assert message is not None
    assert "never use" in message
    assert hint in message


def test_punctuation_is_refused_and_the_position_named():
    message = validate_credit_code("91350100M000-00Y43")
    assert message is not None
    assert "character 13" in message


def test_the_administrative_division_must_be_digits():
    code = make_credit_code("91350100M000100Y4")
    bad = code[:3] + "A" + code[4:]
    message = validate_credit_code(bad)
    assert message is not None
    assert "administrative division" in message


def test_lower_case_and_surrounding_spaces_are_normalised():
    assert normalize_credit_code("  91350100m000100y43\n") == REAL_CODE
    assert is_valid_credit_code(" 91350100m000100y43 ")


def test_a_non_string_is_reported_not_raised():
    assert validate_credit_code(913501001000100143) is not None  # type: ignore[arg-type]


def test_check_character_refuses_bad_input():
    with pytest.raises(ValueError, match="17"):
        check_character("9135")
    with pytest.raises(ValueError, match="never use"):
        check_character("91350100M00010OY4")


def test_make_credit_code_refuses_letters_in_the_division_code():
    with pytest.raises(ValueError, match="administrative division"):
        make_credit_code("91A50100M000100Y4")


def test_make_credit_code_reproduces_a_real_code():
    assert make_credit_code("91350100m000100y4") == REAL_CODE


_code_char = st.sampled_from(ALPHABET)
_first17 = st.builds(
    lambda head, division, tail: head + division + tail,
    st.text(_code_char, min_size=2, max_size=2),
    st.text(st.sampled_from("0123456789"), min_size=6, max_size=6),
    st.text(_code_char, min_size=9, max_size=9),
)


@given(_first17)
def test_every_made_code_validates(first17):
    code = make_credit_code(first17)
    assert len(code) == 18
    assert validate_credit_code(code) is None


@given(_first17, st.integers(min_value=0, max_value=16), _code_char)
def test_changing_any_one_character_breaks_the_check(first17, position, replacement):
    code = make_credit_code(first17)
    if code[position] == replacement or (2 <= position < 8 and not replacement.isdigit()):
        return
    changed = code[:position] + replacement + code[position + 1 :]
    # Weights are invertible mod 31 (a prime), so a single substitution always changes the sum.
    assert not is_valid_credit_code(changed)
