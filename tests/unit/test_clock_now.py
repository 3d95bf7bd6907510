"""The clock's naive UTC time, computed from the epoch, is the time ``datetime`` gives."""

from __future__ import annotations

from datetime import UTC, datetime

from hypothesis import given
from hypothesis import strategies as st

from workflow.platform import clock


@given(st.integers(min_value=0, max_value=4_102_444_800 * 10**9))  # up to 2100
def test_nanoseconds_become_the_utc_calendar_time(ns: int) -> None:
    expected = datetime.fromtimestamp(ns // 10**9, UTC).replace(
        tzinfo=None, microsecond=(ns // 1000) % 10**6
    )
    assert clock.naive_utc(ns) == expected


def test_now_is_naive_and_between_two_readings_of_datetime() -> None:
    before = datetime.now(UTC).replace(tzinfo=None)
    now = clock.now()
    after = datetime.now(UTC).replace(tzinfo=None)
    assert now.tzinfo is None
    assert before <= now <= after
