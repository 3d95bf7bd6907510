"""Answers encoded by orjson are the documents Flask's own provider encodes: the same
values, keys sorted, Flask's rules for dates, dataclasses and the rest, and Flask's own
encoding for what orjson refuses."""

from __future__ import annotations

import dataclasses
import json
import uuid
from datetime import date, datetime
from decimal import Decimal

from flask import Flask
from flask.json.provider import DefaultJSONProvider
from hypothesis import given
from hypothesis import strategies as st

from api.json_answers import AnswerJSONProvider


def _apps() -> tuple[Flask, Flask]:
    fast, plain = Flask("fast"), Flask("plain")
    fast.json = AnswerJSONProvider(fast)
    plain.json = DefaultJSONProvider(plain)
    return fast, plain


FAST, PLAIN = _apps()

values = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(), inner, max_size=4),
    max_leaves=20,
)


def _answers(value: object) -> tuple[bytes, bytes]:
    with FAST.app_context(), PLAIN.app_context():
        return FAST.json.response(value).get_data(), PLAIN.json.response(value).get_data()


@given(values)
def test_every_document_reads_back_the_same(value: object) -> None:
    fast, plain = _answers(value)
    assert json.loads(fast) == json.loads(plain)
    assert fast.endswith(b"\n")


@given(st.dictionaries(st.text(min_size=1), st.integers(), min_size=2, max_size=8))
def test_keys_are_sorted_as_flask_sorts_them(value: dict[str, int]) -> None:
    fast, plain = _answers(value)
    assert list(json.loads(fast)) == list(json.loads(plain)) == sorted(value)


@dataclasses.dataclass
class _Point:
    x: int
    when: date


def test_flask_s_rules_for_the_types_json_does_not_know() -> None:
    value = {
        "at": datetime(2026, 12, 7, 1, 2, 3),
        "day": date(2026, 12, 7),
        "id": uuid.UUID(int=7),
        "amount": Decimal("12.50"),
        "point": _Point(1, date(2026, 1, 2)),
        "wide": "中文 ✓",
    }
    fast, plain = _answers(value)
    assert json.loads(fast) == json.loads(plain)
    assert json.loads(fast)["at"] == "Mon, 07 Dec 2026 01:02:03 GMT"


def test_what_orjson_refuses_is_encoded_as_flask_encodes_it() -> None:
    for value in ({"big": 2**80}, {"surrogate": "x\ud800y"}, [[[[]]]] * 2):
        fast, plain = _answers(value)
        assert json.loads(fast) == json.loads(plain)
    deep: list = []
    for _ in range(300):  # beyond orjson's nesting limit
        deep = [deep]
    fast, plain = _answers(deep)
    assert fast == plain
