"""Every kind of governed configuration reports every problem of a draft in one pass
(issue 18): three independent mistakes in different rules or sections give three
problems, each with its key, code and params; a broken rule gives no follow-on problems;
a shipped file with mistakes fails to load naming all of them."""

from __future__ import annotations

from importlib.resources import files
from typing import Any

import pytest
import yaml

from workflow.risk.events.monitoring import MonitoringRulesError, parse_monitoring_rules
from workflow.risk.governance.kinds import (
    Problem,
    check_alert_routing,
    check_dd_checklist,
    check_monitoring,
    check_rule_set,
)
from workflow.risk.screening.rules import RuleSetError, parse_rule_set

RULES = (files("definitions") / "rules" / "default.yaml").read_text(encoding="utf-8")
MONITORING = (files("definitions") / "rules" / "monitoring.yaml").read_text(encoding="utf-8")


def _broken(content: str, *changes: tuple[str, str]) -> str:
    for old, new in changes:
        assert content.count(old) == 1, old
        content = content.replace(old, new)
    return content


def _by_key(problems: list[Problem]) -> dict[str, Problem]:
    found = {p.key: p for p in problems}
    assert len(found) == len(problems), [p.to_dict() for p in problems]
    return found


def _rule_set(text: str) -> list[Problem]:
    return check_rule_set(yaml.safe_load(text), "rules.yaml", {})


def _monitoring(text: str) -> list[Problem]:
    return check_monitoring(yaml.safe_load(text), "monitoring.yaml", {})


# three mistakes in different rules and sections of the shipped rule set
RULE_SET_MISTAKES = (
    ('when: "facts.dishonest_debtor"', 'when: "facts.dishonest_debter"'),
    ("rating: S\n", "rating: SS\n"),
    ("- {rating: B, min: 70}", "- {rating: B, min: 170}"),
)


def test_a_rule_set_with_three_mistakes_in_different_rules_and_sections_has_three() -> None:
    problems = _rule_set(_broken(RULES, *RULE_SET_MISTAKES))
    found = _by_key(problems)
    assert set(found) == {
        "rating_rules[1].when",
        "rating_rules[2].rating",
        "scorecard.bands[1].min",
    }, [p.to_dict() for p in problems]
    # a misspelt fact is found by trying the condition on sample facts, beside the others
    when = found["rating_rules[1].when"]
    assert when.code == "rules.expression_unknown_name"
    assert when.params["name"] == "dishonest_debter"
    assert found["rating_rules[2].rating"].code == "rules.rating"
    assert found["rating_rules[2].rating"].params["value"] == "SS"
    assert found["scorecard.bands[1].min"].code == "rules.range"
    assert found["scorecard.bands[1].min"].params == {"value": "170", "min": "0", "max": "100"}


def test_every_field_of_one_rule_and_every_section_is_checked() -> None:
    problems = _rule_set(
        _broken(
            RULES,
            (
                '- id: blacklisted\n    when: "facts.blacklisted"\n    rating: D',
                "- id: ''\n    when: \"facts.blacklisted >\"\n    rating: E",
            ),
            ("  C: high\n", "  C: severe\n"),
            (
                "    - id: litigation_count\n      weight: 0.20",
                "    - id: litigation_count\n      weight: 0",
            ),
            ("    - {rating: D, min: 0}", "    - {rating: D, min: 0, max: 10}"),
        )
    )
    found = _by_key(problems)
    assert set(found) == {
        "rating_rules[0].id",
        "rating_rules[0].when",
        "rating_rules[0].rating",
        "risk_levels.C",
        "scorecard.indicators[2].weight",
        "scorecard.bands[3].max",
    }, [p.to_dict() for p in problems]
    assert found["rating_rules[0].id"].code == "rules.text"
    assert found["rating_rules[0].when"].code == "rules.expression_parse"
    assert found["risk_levels.C"].code == "rules.risk_level"
    assert found["scorecard.indicators[2].weight"].code == "rules.weight_zero"
    assert found["scorecard.bands[3].max"].code == "rules.unknown_key"


def test_a_broken_rule_or_indicator_gives_no_follow_on_problems() -> None:
    # the broken rule repeats an id; the broken weight leaves the weights short of 1:
    # neither is reported; the rule's reason naming a percentage its (sound) condition
    # lacks is its own mistake and is reported beside the rating (issue 18)
    problems = _rule_set(
        _broken(
            RULES,
            (
                '- id: dishonest_debtor\n    when: "facts.dishonest_debtor"\n    rating: D',
                '- id: blacklisted\n    when: "facts.dishonest_debtor"\n    rating: X',
            ),
            ("客户被列为失信被执行人", "客户被列为失信被执行人（超过 50%）"),
            (
                "    - id: negative_news_count\n      weight: 0.15",
                "    - id: negative_news_count\n      weight: high",
            ),
        )
    )
    found = _by_key(problems)
    assert set(found) == {
        "rating_rules[1].rating",
        "rating_rules[1].reason.zh-CN",
        "scorecard.indicators[3].weight",
    }, [p.to_dict() for p in problems]
    assert found["scorecard.indicators[3].weight"].code == "rules.number"
    assert found["rating_rules[1].reason.zh-CN"].code == "config.reason_percent"


# issue 18: five independent mistakes, one of them (the reason) in both languages
FIVE_MISTAKES = (
    ("    rating: S\n", "    rating: X\n"),
    ("facts.state_ownership_pct > 80.0", "facts.state_ownership_pct > 70.0"),
    ("facts.litigation_count == 0 ? 100", "facts.litigation_count === 0 ? 100"),
    (
        "    - id: payment_history\n      weight: 0.25",
        "    - id: payment_history\n      weight: 0.65",
    ),
    ("- {rating: B, min: 70}", "- {rating: B, min: 170}"),
)


def test_five_independent_mistakes_give_every_problem_at_once() -> None:
    # a wrong rating does not hide the rule's reason (its condition parses); a broken
    # score expression does not hide the weights' sum (every weight parsed)
    problems = _rule_set(_broken(RULES, *FIVE_MISTAKES))
    found = _by_key(problems)
    assert {k: p.code for k, p in found.items()} == {
        "rating_rules[2].rating": "rules.rating",
        "rating_rules[2].reason.zh-CN": "config.reason_percent",
        "rating_rules[2].reason.en": "config.reason_percent",
        "scorecard.indicators[2].score": "rules.expression_parse",
        "scorecard.indicators": "rules.weights_sum",
        "scorecard.bands[1].min": "rules.range",
    }, [p.to_dict() for p in problems]
    assert found["rating_rules[2].rating"].params["value"] == "X"
    assert found["scorecard.indicators"].params == {"total": "1.4"}
    assert found["rating_rules[2].reason.zh-CN"].params["percent"] == "80"
    assert found["rating_rules[2].reason.zh-CN"].params["numbers"] == ["70"]


def test_a_reason_is_not_checked_against_a_condition_that_does_not_parse() -> None:
    problems = _rule_set(
        _broken(
            RULES,
            (
                "facts.state_ownership_pct > 80.0",
                "facts.state_ownership_pct >> 70.0",
            ),
        )
    )
    assert [(p.key, p.code) for p in problems] == [
        ("rating_rules[2].when", "rules.expression_parse")
    ]


def test_the_weights_sum_is_not_checked_when_a_weight_does_not_parse() -> None:
    problems = _rule_set(
        _broken(
            RULES,
            ("    - id: payment_history\n      weight: 0.25", "    - id: payment_history"),
            ("facts.litigation_count == 0 ? 100", "facts.litigation_count === 0 ? 100"),
        )
    )
    assert {(p.key, p.code) for p in problems} == {
        ("scorecard.indicators[4].weight", "config.required"),
        ("scorecard.indicators[2].score", "rules.expression_parse"),
    }, [p.to_dict() for p in problems]


def test_sample_facts_probe_every_expression() -> None:
    problems = _rule_set(
        _broken(
            RULES,
            ('when: "facts.blacklisted"', 'when: "facts.litigation_count"'),
            ("facts.litigation_count <= 5 ? 40 : 10", "facts.litigation_count <= 5 ? 40 : 110"),
            (
                "facts.negative_news_count <= 3 ? 40 : 10",
                "facts.negative_news_count <= 3 ? 40 : 'x'",
            ),
        )
    )
    found = _by_key(problems)
    assert {k: p.code for k, p in found.items()} == {
        "rating_rules[0].when": "rules.expression_boolean",
        "scorecard.indicators[2].score": "rules.expression_range",
        "scorecard.indicators[3].score": "rules.expression_number",
    }


def test_loading_a_rule_set_file_fails_naming_every_problem() -> None:
    with pytest.raises(RuleSetError) as caught:
        parse_rule_set(_broken(RULES, *RULE_SET_MISTAKES), "default.yaml")
    error = caught.value
    # the expressions are tried on sample facts last
    assert [p.key for p in error.problems] == [
        "rating_rules[2].rating",
        "scorecard.bands[1].min",
        "rating_rules[1].when",
    ]
    assert error.key == "rating_rules[2].rating" and error.file == "default.yaml"
    for key in ("scorecard.bands[1].min", "rating_rules[1].when"):
        assert key in str(error)


def test_the_top_level_keys_are_checked_beside_the_rules() -> None:
    problems = _rule_set(
        _broken(
            RULES,
            ("version: 2\n", "version: 0\nowner: me\n"),
            ("rating: S\n", "rating: SS\n"),
        )
    )
    assert {p.key: p.code for p in problems} == {
        "owner": "rules.unknown_key",
        "version": "config.version",
        "rating_rules[2].rating": "rules.rating",
    }


MONITORING_MISTAKES = (
    ("      types: [dishonest_debtor]", "      types: [dishonest]"),
    (
        "      alert: {level: red, category: watchlist_hit}",
        "      alert: {level: crimson, category: watchlist_hit}",
    ),
    (
        "      threshold: {type: litigation, count: 3, days: 90}",
        "      threshold: {type: litigation, count: 3, days: 0}",
    ),
)


def test_monitoring_rules_with_three_mistakes_in_different_rules_have_three() -> None:
    problems = _monitoring(_broken(MONITORING, *MONITORING_MISTAKES))
    found = _by_key(problems)
    assert {k: p.code for k, p in found.items()} == {
        "rules[0].match.types[0]": "config.unknown_name",
        "rules[2].actions.alert.level": "config.unknown_name",
        "rules[3].match.threshold.days": "rules.at_least",
    }, [p.to_dict() for p in problems]
    assert found["rules[0].match.types[0]"].params["value"] == "dishonest"
    assert found["rules[2].actions.alert.level"].params["value"] == "crimson"


def test_every_field_of_one_monitoring_rule_is_checked_without_follow_ons() -> None:
    problems = _monitoring(
        _broken(
            MONITORING,
            (
                "      alert: {level: black, category: dishonest_debtor}\n"
                "      tag: {name: 失信被执行人}\n",
                "      alert: {level: blue, category: gossip}\n"
                "      tag: {name: 失信被执行人, expires_after: soon}\n",
            ),
            ("- id: watchlist_certain_black", "- id: dishonest_debtor_black\n    colour: red"),
        )
    )
    found = _by_key(problems)
    # the second rule, broken by an unknown key, is not also reported as a duplicate id
    assert {k: p.code for k, p in found.items()} == {
        "rules[0].actions.alert.level": "config.unknown_name",
        "rules[0].actions.alert.category": "config.unknown_name",
        "rules[0].actions.tag.expires_after": "config.duration",
        "rules[1].colour": "rules.unknown_key",
    }, [p.to_dict() for p in problems]


def test_a_match_with_a_problem_is_not_also_said_to_match_every_event() -> None:
    problems = _monitoring(
        _broken(MONITORING, ("      types: [dishonest_debtor]", "      types: dishonest_debtor"))
    )
    assert [(p.key, p.code) for p in problems] == [("rules[0].match.types", "monitoring.words")]


def test_loading_a_monitoring_file_fails_naming_every_problem() -> None:
    with pytest.raises(MonitoringRulesError) as caught:
        parse_monitoring_rules(_broken(MONITORING, *MONITORING_MISTAKES), "monitoring.yaml")
    error = caught.value
    assert [p.key for p in error.problems] == [
        "rules[0].match.types[0]",
        "rules[2].actions.alert.level",
        "rules[3].match.threshold.days",
    ]
    assert "rules[3].match.threshold.days" in str(error)


def test_the_shipped_monitoring_titles_say_what_their_rules_count() -> None:
    assert _monitoring(MONITORING) == []


def test_a_monitoring_title_naming_a_count_its_rule_no_longer_has_is_a_problem() -> None:
    # issue 18: 3 → 4 lawsuits kept the title "90 天内涉诉 3 次及以上" and was accepted
    problems = _monitoring(
        _broken(
            MONITORING,
            (
                "threshold: {type: litigation, count: 3, days: 90}",
                "threshold: {type: litigation, count: 4, days: 90}",
            ),
            ("score_drop: {points: 15, days: 30}", "score_drop: {points: 20, days: 30}"),
        )
    )
    found = _by_key(problems)
    # the English titles say "Three" and "15 points" in words and digits alike
    assert {k: p.code for k, p in found.items()} == {
        "rules[3].title.zh-CN": "config.title_number",
        "rules[3].title.en": "config.title_number",
        "rules[7].title.zh-CN": "config.title_number",
        "rules[7].title.en": "config.title_number",
    }, [p.to_dict() for p in problems]
    assert found["rules[3].title.zh-CN"].params == {"number": "3", "numbers": ["4", "90"]}
    assert found["rules[3].title.en"].params == {"number": "3", "numbers": ["4", "90"]}
    assert found["rules[7].title.zh-CN"].params == {"number": "15", "numbers": ["20", "30"]}


def test_a_monitoring_title_is_checked_against_the_days_and_the_condition() -> None:
    problems = _monitoring(
        _broken(
            MONITORING,
            (
                "threshold: {type: litigation, count: 3, days: 90}",
                "threshold: {type: litigation, count: 3, days: 60}",
            ),
            (
                "title: {zh-CN: 名单确定命中, en: Certain watch-list hit}",
                "title: {zh-CN: 名单确定命中（置信度 0.9 以上）, en: Certain watch-list hit}",
            ),
        )
    )
    assert {(p.key, p.params["number"]) for p in problems} == {
        ("rules[1].title.zh-CN", "0.9"),
        ("rules[3].title.zh-CN", "90"),
        ("rules[3].title.en", "90"),
    }, [p.to_dict() for p in problems]
    # a number of the condition explains the title
    fixed = _monitoring(
        _broken(
            MONITORING,
            (
                "title: {zh-CN: 名单确定命中, en: Certain watch-list hit}",
                "title: {zh-CN: 名单命中（置信度 0.9 以上）, en: Certain watch-list hit}",
            ),
            (
                "event.data.certainty == 'certain'\"",
                "event.data.certainty == 'certain' && event.data.score >= 0.9\"",
            ),
        )
    )
    assert fixed == [], [p.to_dict() for p in fixed]


def test_a_title_is_not_checked_against_a_broken_threshold() -> None:
    problems = _monitoring(
        _broken(
            MONITORING,
            (
                "threshold: {type: litigation, count: 3, days: 90}",
                "threshold: {type: litigation, count: 4, days: soon}",
            ),
        )
    )
    assert [(p.key, p.code) for p in problems] == [
        ("rules[3].match.threshold.days", "rules.number")
    ]


ROUTING = {
    "version": 1,
    "levels": ["yellow", "red", "black"],
    "sla": {"red": {"respond": "4h", "rectify": "5d"}},
    "business_hours": {"start": "09:00", "end": "18:00"},
    "routing": {
        "client_owner": True,
        "roles": ["risk_officer"],
        "rules": [{"when": {"level": "black"}, "roles": ["manager"]}],
    },
    "digest_at": "21:00",
}


def _routing(**changes: Any) -> list[Problem]:
    return check_alert_routing(ROUTING | changes, "alert_routing draft", {})


def test_the_routing_example_is_valid() -> None:
    assert _routing() == []


def test_alert_routing_with_three_mistakes_in_different_sections_has_three() -> None:
    problems = _routing(
        sla={"red": {"respond": "soon", "rectify": "5d"}},
        business_hours={"start": "9am", "end": "18:00"},
        routing={"rules": [{"when": {"level": "black"}, "roles": ["janitor"]}]},
    )
    assert {p.key: p.code for p in problems} == {
        "sla.red.respond": "config.duration",
        "business_hours.start": "config.clock",
        "routing.rules[0].roles[0]": "config.unknown_name",
    }


def test_every_problem_of_a_push_channel_is_named() -> None:
    channel = {"type": "pager", "url": "x", "language": "fr", "colour": "red"}
    problems = _routing(routing={"roles": ["risk_officer"], "channels": [channel]})
    # the url is not checked for an unknown robot type (its example depends on the type)
    assert [(p.key, p.code) for p in problems] == [
        ("routing.channels[0]", "channel.unknown_keys"),
        ("routing.channels[0]", "channel.type"),
        ("routing.channels[0]", "channel.language"),
    ]
    assert problems[1].params["value"] == "pager"


def test_dd_checklist_with_three_mistakes_in_different_sections_has_three() -> None:
    problems = check_dd_checklist(
        {
            "version": 1,
            "checklist": {"Basic": {"zh-CN": "基本信息", "en": "Basic information"}},
            "checklists": {"natural_person": {"identity": {"zh-CN": "身份"}}},
            "risk_grades": [],
        },
        "dd_checklist draft",
        {},
    )
    assert {p.key: p.code for p in problems} == {
        "checklist.Basic": "config.item_key",
        "checklists.natural_person.identity": "config.item_labels",
        "risk_grades": "config.risk_grades",
    }


def test_a_checklist_for_a_client_type_that_does_not_exist_is_named() -> None:
    labels = {"zh-CN": "身份核验", "en": "Identity verification"}
    problems = check_dd_checklist(
        {
            "version": 1,
            "checklist": {"basic_info": labels},
            "checklists": {"natural_persn": {"identity": labels}},
        },
        "dd_checklist draft",
        {},
    )
    assert [(p.key, p.code) for p in problems] == [
        ("checklists.natural_persn", "config.unknown_name")
    ]
    assert problems[0].params["allowed"] == ["enterprise", "individual_business", "natural_person"]


def test_the_shape_of_the_routing_is_checked_without_follow_ons() -> None:
    # an unknown match key would fail every alert; a text where a list belongs would be
    # read letter by letter: each is one problem, and a channel list that is not a list
    # gives no problems about its "channels"
    problems = _routing(
        routing={
            "roles": ["risk_officer"],
            "users": "alice",
            "rules": [
                {"when": {"levle": "black"}, "roles": ["manager"], "channels": "wecom"},
                {"when": {"level": "red"}, "notify": ["legal"]},
            ],
        },
    )
    found = {p.key: p for p in problems}
    assert {k: p.code for k, p in found.items()} == {
        "routing.users": "config.users",
        "routing.rules[0].when.levle": "config.unknown_key",
        "routing.rules[0].channels": "config.channels",
        "routing.rules[1].notify": "config.unknown_key",
    }, [p.to_dict() for p in problems]
    assert found["routing.rules[0].when.levle"].params["allowed"] == [
        "level",
        "category",
        "region",
        "industry",
    ]
    assert _routing(routing={"rules": {"when": {}}})[0].code == "config.routing_rules"
