"""The audit chain hashes a record's time as text: the faster formatting must give the
text every stored hash was computed over, ``strftime("%Y-%m-%dT%H:%M:%S.%fZ")``."""

from __future__ import annotations

from datetime import datetime

from hypothesis import given
from hypothesis import strategies as st

from workflow.records.chain import isoformat


@given(st.datetimes(min_value=datetime(1, 1, 1), max_value=datetime(9999, 12, 31, 23, 59, 59)))
def test_the_chain_s_time_text_is_the_strftime_text(at: datetime) -> None:
    assert isoformat(at) == at.strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def test_whole_seconds_keep_their_six_zero_digits() -> None:
    assert isoformat(datetime(2026, 12, 6, 23, 40)) == "2026-12-06T23:40:00.000000Z"
    assert isoformat(None) is None
