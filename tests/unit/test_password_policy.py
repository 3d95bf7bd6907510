"""The password policy: long enough, not a common password, not the user name."""

from __future__ import annotations

import pytest
from zxcvbn.frequency_lists import FREQUENCY_LISTS

from workflow.accounts.password_policy import MIN_LENGTH, problems


@pytest.mark.parametrize(
    "password",
    [
        "password123",
        "qwertyuiop",
        "1q2w3e4r5t",
        "zaq12wsx",
        "iloveyou2",
        "woaini1314",
        "Passw0rd!",
        "shanghai2024",
        "abc123456",
        "aaaaaaaaaaaa",
    ],
)
def test_common_passwords_and_patterns_are_refused(password):
    found = problems(password, "carol")
    assert found and any("guess" in p for p in found), found


def test_every_long_enough_password_of_the_shipped_published_list_is_refused():
    # zxcvbn ships the 30,000 most common passwords of published leaks; a sample of them
    listed = [p for p in FREQUENCY_LISTS["passwords"] if len(p) >= MIN_LENGTH]
    assert len(listed) > 10_000
    for password in listed[::97]:
        assert problems(password, "carol"), password


@pytest.mark.parametrize(
    "password", ["carol", "carolcarol", "Carol-Xq9#mT2vLp", "x7!CAROL!y8#z", "my.carol.2026.kite"]
)
def test_a_password_equal_to_or_containing_the_user_name_is_refused(password):
    found = problems(password, "carol")
    assert any("user name" in p for p in found), found


def test_a_short_user_name_is_refused_only_as_the_whole_password():
    assert problems("Xq9#mT2vLpab", "ab") == []  # 'ab' inside is no reason to refuse
    assert any("user name" in p for p in problems("ab", "ab"))


def test_a_short_password_is_refused_with_the_minimum_named():
    assert any(str(MIN_LENGTH) in p for p in problems("Xq9#mT", "carol"))


@pytest.mark.parametrize(
    "password",
    [
        "correct-horse-battery",
        "riskloop-demo",
        "a-long-password-1",
        "Xq9#mT2vLp",
        "bench-ledger-quartz-47",
    ],
)
def test_uncommon_passphrases_are_accepted(password):
    assert problems(password, "carol") == []


def test_personal_details_count_as_guessable():
    assert problems("wangxiaoming88", "wang1", hints=["Wang Xiaoming"])
