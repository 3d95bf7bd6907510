"""Monitoring rules as data: the shipped file loads, every error names file, key and fix,
and matching by type, keywords (Chinese, any/all) and the client's attributes."""

from __future__ import annotations

import pytest

from workflow.risk.events.monitoring import (
    MonitoringRulesError,
    load_monitoring_rules,
    parse_monitoring_rules,
)

RULE = """
name: test
version: 1
rules:
  - id: r
    match:
{match}
    actions:
{actions}
"""


def rules_with(match: str = "      types: [negative_news]", actions: str = "      rescore: true"):  # noqa: ANN201
    return parse_monitoring_rules(RULE.format(match=match, actions=actions), "monitoring.yaml")


def news(title: str = "", details: str = "", keywords: list[str] | None = None) -> dict:
    return {
        "type": "negative_news",
        "title": title,
        "details": details,
        "keywords": keywords or [],
        "source": "t",
        "data": {},
    }


CLIENT = {"industry": "制造业", "region": "上海", "tags": ["重点客户"], "rating": "A"}


def test_the_shipped_rules_load_with_the_defaults_of_the_field() -> None:
    rules = load_monitoring_rules()
    by_id = {r.id: r for r in rules.rules}
    assert by_id["dishonest_debtor_black"].alert.level == "black"
    assert by_id["watchlist_certain_black"].alert.level == "black"
    assert by_id["watchlist_possible_red"].alert.level == "red"
    litigation = by_id["litigation_three_in_90_days"].threshold
    assert (litigation.type, litigation.count, litigation.days) == ("litigation", 3, 90)
    assert set(by_id["negative_news_serious_red"].keywords_any) == {"立案", "被执行", "破产"}
    assert set(by_id["negative_news_operations_yellow"].keywords_any) == {"停产", "欠薪"}
    assert by_id["abnormal_operation_red"].alert.category == "abnormal_operation"
    assert len(rules.content_hash) == 64


@pytest.mark.parametrize(
    "match, actions, key, fix",
    [
        ("      types: [rumour]", "      rescore: true", "rules[0].match.types[0]", "use one of"),
        ("      colour: red", "      rescore: true", "rules[0].match.colour", "allowed here"),
        (
            "      keywords: {any: [立案]}",
            "      rescore: true",
            "rules[0].match",
            "matches every event",
        ),
        (
            "      types: [litigation]",
            "      alert: {level: purple, category: litigation}",
            "rules[0].actions.alert.level",
            "yellow",
        ),
        (
            "      types: [litigation]",
            "      alert: {level: red, category: gossip}",
            "rules[0].actions.alert.category",
            "use one of",
        ),
        (
            "      types: [litigation]",
            "      tag: {name: 涉诉, expires_after: soon}",
            "rules[0].actions.tag.expires_after",
            "duration",
        ),
        ("      types: [litigation]", "      {}", "rules[0].actions", "give alert, tag or rescore"),
        (
            "      types: [litigation]\n      threshold: {type: litigation, count: 0, days: 90}",
            "      rescore: true",
            "rules[0].match.threshold.count",
            "at least 1",
        ),
        ("      when: \"event.type = 'x'\"", "      rescore: true", "rules[0].match.when", "CEL"),
        (
            '      when: "facts.blacklisted"',
            "      rescore: true",
            "rules[0].match.when",
            "client, event",
        ),
        (
            "      when: \"event.data.certainty == 'certain'\"",
            "      rescore: true",
            "rules[0].match.when",
            "has(event.data.certainty)",
        ),
    ],
)
def test_an_invalid_rule_names_the_file_the_key_and_the_fix(
    match: str, actions: str, key: str, fix: str
) -> None:
    with pytest.raises(MonitoringRulesError) as caught:
        rules_with(match, actions)
    assert caught.value.file == "monitoring.yaml"
    assert caught.value.key == key
    assert fix in str(caught.value)


def test_duplicate_rule_ids_and_keys_are_refused() -> None:
    text = RULE.format(match="      types: [litigation]", actions="      rescore: true")
    twice = text + text.split("rules:\n", 1)[1]
    with pytest.raises(MonitoringRulesError, match="duplicate rule id"):
        parse_monitoring_rules(twice, "monitoring.yaml")
    with pytest.raises(MonitoringRulesError, match="duplicate key"):
        parse_monitoring_rules("name: a\nname: b\nversion: 1\nrules: []\n", "monitoring.yaml")


def test_keywords_match_any_or_all_in_the_keywords_title_and_details() -> None:
    any_rule = rules_with(
        "      types: [negative_news]\n      keywords: {any: [破产, 欠薪]}"
    ).rules[0]
    assert any_rule.matches_event(news(title="公司申请破产重整"), CLIENT)
    assert any_rule.matches_event(news(details="员工称被欠薪三个月"), CLIENT)
    assert any_rule.matches_event(news(keywords=["欠薪"]), CLIENT)
    assert not any_rule.matches_event(news(title="新品发布"), CLIENT)
    all_rule = rules_with(
        "      types: [negative_news]\n      keywords: {all: [停产, 欠薪]}"
    ).rules[0]
    assert all_rule.matches_event(news(title="停产", details="欠薪"), CLIENT)
    assert not all_rule.matches_event(news(title="停产"), CLIENT)
    latin = rules_with("      types: [negative_news]\n      keywords: {any: [Bankruptcy]}").rules[0]
    assert latin.matches_event(news(details="BANKRUPTCY filing"), CLIENT)
    assert not any_rule.matches_event({**news(title="破产"), "type": "litigation"}, CLIENT)


def test_the_clients_industry_region_and_tags_narrow_a_rule() -> None:
    match = (
        "      types: [negative_news]\n      industries: [制造业]\n      regions: [上海, 北京]\n"
        "      tags: [重点客户, 频繁涉诉]"
    )
    rule = rules_with(match).rules[0]
    assert rule.matches_event(news(), CLIENT)
    assert not rule.matches_event(news(), {**CLIENT, "industry": "金融业"})
    assert not rule.matches_event(news(), {**CLIENT, "region": "深圳"})
    assert not rule.matches_event(news(), {**CLIENT, "tags": []})


def test_a_condition_reads_the_event_and_the_client() -> None:
    rule = rules_with(
        "      types: [litigation]\n"
        "      when: \"has(event.data.amount) && event.data.amount > 1000000 && client.rating != 'D'\""
    ).rules[0]
    big = {**news(), "type": "litigation", "data": {"amount": 5_000_000}}
    assert rule.matches_event(big, CLIENT)
    assert not rule.matches_event({**big, "data": {"amount": 10}}, CLIENT)
    assert not rule.matches_event({**big, "data": {}}, CLIENT)
    assert not rule.matches_event(big, {**CLIENT, "rating": "D"})
