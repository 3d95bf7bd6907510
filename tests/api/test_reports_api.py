"""Closed-loop and SLA reports against a hand-built history with known durations."""

from __future__ import annotations

import csv
import io

import pytest
from flask import Flask

from tests.support.audit_history import HOUR, T0


@pytest.fixture
def app(loop_app: Flask) -> Flask:
    """This module's app also loads ``test_loop`` (the history is built on it)."""
    return loop_app


H = 3600.0


def loops(api, user: str = "auditor1", **params):  # noqa: ANN201
    r = api.get(
        user, "/api/v1/reports/closed-loops", query_string={"definition": "test_loop", **params}
    )
    assert r.status_code == 200, r.get_json()
    return r.get_json()


def test_closed_loops_give_time_per_stage_breaches_reopens_and_who_acted(api, history):
    page = loops(api)
    assert [item["id"] for item in page["items"]] == [history["red"], history["yellow"]]
    red, yellow = page["items"]
    assert [(s["state"], s["seconds"]) for s in red["stages"]] == [
        ("warned", 2 * H),
        ("responded", 3 * H),
        ("rectified", 1 * H),
        ("responded", 4 * H),
        ("rectified", 1 * H),
    ]
    assert (red["total_seconds"], red["reopens"], red["breaches"]) == (11 * H, 1, 0)
    assert (
        red["actors"] == ["risk1", "sales1"] and red["level"] == "red" and red["owner"] == "sales1"
    )
    assert [(s["trigger"], s["actor"], s["comment"]) for s in red["steps"]][2] == (
        "reopen",
        "risk1",
        "整改不充分",
    )
    assert (yellow["total_seconds"], yellow["reopens"], yellow["breaches"]) == (33 * H, 0, 1)
    assert [(s["state"], s["seconds"], s["breached"]) for s in yellow["stages"]] == [
        ("warned", 30 * H, True),
        ("responded", 2 * H, False),
        ("rectified", 1 * H, False),
    ]


def test_closed_loops_filter_by_level_owner_and_period_and_paginate(api, history):
    assert [i["id"] for i in loops(api, level="red")["items"]] == [history["red"]]
    assert [i["id"] for i in loops(api, owner="sales2")["items"]] == [history["yellow"]]
    since = (T0 + 12 * HOUR).isoformat() + "Z"
    assert [i["id"] for i in loops(api, since=since)["items"]] == [history["yellow"]]
    first = loops(api, limit=1)
    assert [i["id"] for i in first["items"]] == [history["red"]] and first["next_cursor"]
    second = loops(api, limit=1, cursor=first["next_cursor"])
    assert [i["id"] for i in second["items"]] == [history["yellow"]] and second[
        "next_cursor"
    ] is None


def test_sla_report_gives_count_median_p90_and_breach_rate_per_stage(api, history):
    r = api.get("manager1", "/api/v1/reports/sla", query_string={"definition": "test_loop"})
    assert r.status_code == 200, r.get_json()
    rows = {row["stage"]: row for row in r.get_json()["items"]}
    assert set(rows) == {"warned", "responded", "rectified"}
    # warned: 2 h (red), 30 h (yellow, escalated), 1 h (the open case)
    assert (rows["warned"]["count"], rows["warned"]["median_seconds"]) == (3, 2 * H)
    assert rows["warned"]["p90_seconds"] == pytest.approx(2 * H + 0.8 * 28 * H)
    assert (rows["warned"]["breaches"], rows["warned"]["breach_rate"]) == (1, 0.3333)
    # responded: 3 h and 4 h (red), 2 h (yellow); the open case has not left it
    assert (rows["responded"]["count"], rows["responded"]["median_seconds"]) == (3, 3 * H)
    assert rows["responded"]["p90_seconds"] == pytest.approx(3.8 * H)
    assert (
        rows["rectified"]["count"],
        rows["rectified"]["median_seconds"],
        rows["rectified"]["breach_rate"],
    ) == (3, 1 * H, 0)


def test_sla_report_counts_stages_that_ended_in_the_period(api, history):
    since = (T0 + 24 * HOUR).isoformat() + "Z"
    r = api.get(
        "auditor1", "/api/v1/reports/sla", query_string={"definition": "test_loop", "since": since}
    )
    rows = {row["stage"]: row for row in r.get_json()["items"]}
    assert (rows["warned"]["count"], rows["responded"]["count"], rows["rectified"]["count"]) == (
        2,
        1,
        1,
    )


def test_reports_download_as_csv_with_a_bom(api, history):
    r = api.get(
        "auditor1",
        "/api/v1/reports/closed-loops",
        query_string={"definition": "test_loop", "format": "csv"},
    )
    assert r.status_code == 200 and r.mimetype == "text/csv"
    assert r.headers["Content-Type"] == "text/csv; charset=utf-8"  # one charset, not two
    text = r.get_data(as_text=True)
    assert text.startswith("\ufeff")
    rows = list(csv.DictReader(io.StringIO(text.lstrip("\ufeff"))))
    assert len(rows) == 8 and {row["stage"] for row in rows} == {"warned", "responded", "rectified"}
    assert rows[0]["actors"] == "risk1 sales1" and rows[0]["seconds"] == "7200.0"
    sla = api.get("auditor1", "/api/v1/reports/sla", query_string={"format": "csv"}).get_data(
        as_text=True
    )
    assert sla.startswith("\ufeffdefinition,stage,count,median_seconds")


def test_reports_are_for_auditors_and_managers_and_refuse_malformed_filters(api, history):
    for user in ("sales1", "risk1", "admin"):
        r = api.get(user, "/api/v1/reports/sla")
        assert r.status_code == 403, user
    assert api.get(None, "/api/v1/reports/sla").status_code == 401
    bogus = api.get("auditor1", "/api/v1/reports/closed-loops", query_string={"bogus": "1"})
    assert bogus.status_code == 400 and bogus.get_json()["type"].endswith("bad-query")
    for params in ({"since": "yesterday"}, {"limit": "0"}, {"cursor": "abc"}):
        r = api.get("auditor1", "/api/v1/reports/closed-loops", query_string=params)
        assert r.status_code == 422, params
        assert r.get_json()["type"].endswith("validation")
    inverted = loops(api, since="2026-03-02T00:00:00Z", until="2026-03-01T00:00:00Z")
    assert inverted["items"] == []
