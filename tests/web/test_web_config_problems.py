"""The problems of a draft in the reader's language: the live check and the refused filing
word each problem from its code and params (values and names included), in Chinese by
default and in English for a user who picked it; every code the validators write is worded."""

from __future__ import annotations

import html
import re
from pathlib import Path

import pytest
from flask import Flask
from flask_babel import force_locale

from web.config_problems import problem_words

ROOT = Path(__file__).resolve().parents[2]
# the validators of governed configuration and the sources of their coded messages
VALIDATORS = [
    "workflow/engine/definitions.py",
    "workflow/risk/governance/kinds.py",
    "workflow/risk/governance/reasons.py",
    "workflow/risk/governance/definition_kind.py",
    "workflow/risk/screening/rules.py",
    "workflow/risk/events/monitoring.py",
]
# a Message's code, a problem()'s code, and the codes of ``"a" if … else "b"``
_AREAS = "(?:config|rules|monitoring|definition)"
_CODE = re.compile(
    rf'(?:Message\(\s*|problem\(\s*\w+,\s*[^,]+?,\s*|else\s+)"({_AREAS}\.[a-z_]+)"'
    rf'|"({_AREAS}\.[a-z_]+)"\s+if\s'
)
_CHANNEL = re.compile(r'raise fail\(\s*"([a-z_]+)"')


def editor_content(page: str) -> str:
    start = page.index('name="content"')
    start = page.index(">", start) + 1
    return html.unescape(page[start : page.index("</textarea>", start)])


def _text(body: str) -> str:
    return html.unescape(re.sub(r"<[^>]+>", " ", body))


def test_the_live_check_words_a_value_out_of_range_in_the_readers_language(
    console_factory,
) -> None:
    risk = console_factory("risk1")
    content = editor_content(risk.get("/config/rule_set").get_data(as_text=True))
    broken = content.replace("- {rating: A, min: 85}", "- {rating: A, min: 185}", 1)
    assert broken != content
    body = risk.post(
        "/config/rule_set/check", {"content": broken}, token_from="/config/rule_set"
    ).get_data(as_text=True)
    assert 'data-problem-key="scorecard.bands[0].min"' in body
    assert "185 超出范围 0–100。" in _text(body)
    assert "must be at least" not in body  # not the validator's English

    # filing the same draft says the same
    refused = risk.post(
        "/config/rule_set", {"content": broken, "reason": "x"}, token_from="/config/rule_set"
    )
    assert refused.status_code == 422
    assert "185 超出范围 0–100。" in _text(refused.get_data(as_text=True))

    # a user who picked English reads it in English
    risk.post("/language", {"lang": "en", "next": "/config/rule_set"})
    english = risk.post(
        "/config/rule_set/check", {"content": broken}, token_from="/config/rule_set"
    ).get_data(as_text=True)
    assert "185 is outside the range 0–100." in _text(english)


def test_every_problem_of_a_definition_draft_is_shown_in_chinese(console_factory) -> None:
    admin = console_factory("admin")
    url = "/config/definition:due_diligence"
    content = editor_content(admin.get(url).get_data(as_text=True))
    broken = (
        content.replace("sla: 10d", "sla: soon", 1)
        .replace("source: opened\n    dest: collecting", "source: opened\n    dest: colecting", 1)
        .replace(
            "dest: under_review\n    roles: [risk_officer, manager]",
            "dest: under_review\n    roles: [risk_officer, wizard]",
            1,
        )
    )
    body = admin.post(f"{url}/check", {"content": broken}, token_from=url).get_data(as_text=True)
    keys = re.findall(r'data-problem-key="([^"]+)"', body)
    assert sorted(keys) == ["states.collecting.sla", "transitions[1].dest", "transitions[2].roles"]
    text = _text(body)
    assert "3 个问题" in text
    assert "soon 不是时长" in text
    assert "未知的状态 colecting；请使用以下之一：" in text
    assert "未知的角色 wizard；已知的有：" in text


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_every_code_the_validators_write_is_worded(app: Flask) -> None:
    codes = set()
    for path in VALIDATORS:
        for found in _CODE.findall((ROOT / path).read_text(encoding="utf-8")):
            codes |= {c for c in found if c}
    robots = (ROOT / "workflow/risk/notify/robots.py").read_text(encoding="utf-8")
    codes |= {f"channel.{c}" for c in _CHANNEL.findall(robots)}
    assert len(codes) > 80, sorted(codes)  # the scan found the validators' codes
    codes.discard("config.invalid")  # no code of its own: shown in the validator's words
    with app.test_request_context(), force_locale("zh_CN"):
        unworded = sorted(c for c in codes if problem_words(c, {}) is None)
        english = sorted(
            c
            for c in codes
            if (text := problem_words(c, {})) and not re.search(r"[\u4e00-\u9fff]", text)
        )
    assert unworded == [], unworded
    assert english == [], english  # every sentence has its Chinese


@pytest.mark.parametrize("db_url", ["sqlite"], indirect=True)
def test_a_stale_monitoring_title_is_worded_with_its_numbers(app: Flask) -> None:
    params = {"number": "3", "numbers": ["4", "90"]}
    with app.test_request_context():
        with force_locale("zh_CN"):
            chinese = problem_words("config.title_number", params)
        with force_locale("en"):
            english = problem_words("config.title_number", params)
    assert chinese is not None and chinese.startswith("标题写的是 3，但规则中的数字是 4")
    assert "90" in chinese
    assert english == (
        "The title says 3 but the rule counts with the numbers 4, 90; "
        "make the title say what the rule checks."
    )
