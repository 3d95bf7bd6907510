import copy
import hashlib
import json
import math
from decimal import Decimal
from importlib.resources import files
from pathlib import Path

import pytest
import yaml

from workflow.errors import DefinitionError, ValidationFailed
from workflow.risk.screening.rules import (
    FACT_DEFAULTS,
    InvalidFactsError,
    RuleSetError,
    load_default_rule_set,
    load_rule_set,
    normalize_facts,
    parse_rule_set,
)

DEFAULT_PATH = Path(str(files("definitions") / "rules" / "default.yaml"))
DEFAULT = yaml.safe_load(DEFAULT_PATH.read_text(encoding="utf-8"))

# A private company that no hard rule catches; tests change one fact at a time.
ORDINARY = {
    "ownership_type": "private",
    "registered_capital": 10_000_000.0,
    "years_in_business": 10,
    "litigation_count": 0,
    "negative_news_count": 0,
    "payment_history": "good",
}


@pytest.fixture(scope="module")
def rules():
    return load_default_rule_set()


def write_variant(tmp_path, change) -> Path:
    document = copy.deepcopy(DEFAULT)
    change(document)
    path = tmp_path / "variant.yaml"
    path.write_text(yaml.safe_dump(document, allow_unicode=True), encoding="utf-8")
    return path


def load_error(tmp_path, change) -> RuleSetError:
    path = write_variant(tmp_path, change)
    with pytest.raises(RuleSetError) as excinfo:
        load_rule_set(path)
    assert str(path) in str(excinfo.value)
    assert excinfo.value.file == str(path)
    return excinfo.value


# --- the default rule set -------------------------------------------------


def test_the_default_rule_set_loads_with_its_name_version_and_hash(rules):
    assert (rules.name, rules.version) == ("default", 2)
    assert rules.content_hash == hashlib.sha256(DEFAULT_PATH.read_bytes()).hexdigest()


def test_loading_by_path_gives_the_same_rule_set(rules):
    by_path = load_rule_set(DEFAULT_PATH)
    assert by_path.content_hash == rules.content_hash
    assert by_path.evaluate(ORDINARY) == rules.evaluate(ORDINARY)


def test_a_central_soe_above_80_percent_state_ownership_is_rated_s(rules):
    result = rules.evaluate(
        ORDINARY | {"ownership_type": "central_soe", "state_ownership_pct": 80.5}
    )
    assert result.rating == "S"
    assert result.decided_by == "rule"
    assert result.risk_level == "low"
    assert [rule["id"] for rule in result.fired_rules] == ["central_soe_whitelist"]
    assert result.fired_rules[0]["reason"]["zh-CN"]


@pytest.mark.parametrize(
    "facts",
    [
        {"ownership_type": "central_soe", "state_ownership_pct": 80},
        {"ownership_type": "local_soe", "state_ownership_pct": 100},
    ],
)
def test_the_white_list_needs_a_central_soe_strictly_above_80_percent(rules, facts):
    result = rules.evaluate(ORDINARY | facts)
    assert result.rating != "S"
    assert result.fired_rules == []


def test_a_blacklisted_client_is_rated_d_with_no_credit(rules):
    result = rules.evaluate(ORDINARY | {"blacklisted": True})
    assert result.rating == "D"
    assert result.risk_level == "high"
    assert result.credit_limit == 0
    assert [rule["id"] for rule in result.fired_rules] == ["blacklisted"]


def test_a_dishonest_judgement_debtor_is_rated_d(rules):
    result = rules.evaluate(ORDINARY | {"dishonest_debtor": True})
    assert (result.rating, result.decided_by) == ("D", "rule")
    assert result.fired_rules[0]["reason"]["en"].startswith("The client is listed")


def test_a_blacklisted_central_soe_is_still_rated_d_and_every_matching_rule_is_reported(rules):
    result = rules.evaluate(
        ORDINARY
        | {
            "ownership_type": "central_soe",
            "state_ownership_pct": 100,
            "blacklisted": True,
            "dishonest_debtor": True,
        }
    )
    assert result.rating == "D"
    assert [rule["id"] for rule in result.fired_rules] == [
        "blacklisted",
        "dishonest_debtor",
        "central_soe_whitelist",
    ]


def test_the_score_is_computed_even_when_a_rule_decides(rules):
    decided = rules.evaluate(ORDINARY | {"blacklisted": True})
    scored = rules.evaluate(ORDINARY)
    assert decided.score == scored.score
    assert len(decided.contributions) == 5


def test_without_a_matching_rule_the_scorecard_band_decides(rules):
    result = rules.evaluate(ORDINARY)
    assert result.fired_rules == []
    assert result.decided_by == "scorecard"
    assert result.rating == rules.band_for(result.score)


def test_contributions_explain_the_score(rules):
    result = rules.evaluate(ORDINARY | {"litigation_count": 3, "payment_history": "overdue"})
    by_indicator = {c["indicator"]: c for c in result.contributions}
    assert set(by_indicator) == {
        "registered_capital",
        "years_in_business",
        "litigation_count",
        "negative_news_count",
        "payment_history",
    }
    assert by_indicator["litigation_count"] | {} == {
        "indicator": "litigation_count",
        "value": 3,
        "score": 40.0,
        "weight": 0.2,
        "contribution": 8.0,
    }
    assert by_indicator["payment_history"]["value"] == "overdue"
    assert math.isclose(sum(c["weight"] for c in result.contributions), 1.0)
    assert math.isclose(
        sum(c["contribution"] for c in result.contributions), result.score, abs_tol=0.05
    )


@pytest.mark.parametrize(
    ("facts", "score", "rating"),
    [
        # 17.5 + 15 + 20 + 15 + 17.5
        (ORDINARY | {"payment_history": "minor_delays"}, 85.0, "A"),
        # 17.5 + 12 + 20 + 15 + 17.5
        (ORDINARY | {"payment_history": "minor_delays", "years_in_business": 9}, 82.0, "B"),
        # 17.5 + 15 + 14 + 6 + 17.5
        (
            ORDINARY
            | {"payment_history": "minor_delays", "litigation_count": 1, "negative_news_count": 2},
            70.0,
            "B",
        ),
        # 5 + 3 + 14 + 10.5 + 17.5
        (
            {
                "litigation_count": 1,
                "negative_news_count": 1,
                "payment_history": "minor_delays",
            },
            50.0,
            "C",
        ),
        # 5 + 3 + 14 + 10.5 + 7.5
        (
            {"litigation_count": 1, "negative_news_count": 1, "payment_history": "overdue"},
            40.0,
            "D",
        ),
    ],
)
def test_a_score_on_a_band_boundary_belongs_to_the_higher_band(rules, facts, score, rating):
    result = rules.evaluate(facts)
    assert result.score == score
    assert result.rating == rating


def test_band_for_edges(rules):
    assert [rules.band_for(s) for s in (100, 85, 84.9, 70, 69.9, 50, 49.9, 0)] == [
        "A",
        "A",
        "B",
        "B",
        "C",
        "C",
        "D",
        "D",
    ]


def test_the_credit_limit_is_a_share_of_registered_capital_by_rating(rules):
    # 10 M yuan of capital with a clean record scores 87.5: A, multiplier 0.3
    result = rules.evaluate(ORDINARY)
    assert result.rating == "A"
    assert result.credit_limit == 3_000_000


def test_the_credit_limit_is_rounded_down(rules):
    result = rules.evaluate(ORDINARY | {"registered_capital": 10_033_333.0})
    assert result.credit_limit == 3_000_000


def test_the_credit_limit_is_capped(rules):
    result = rules.evaluate(
        ORDINARY
        | {"ownership_type": "central_soe", "state_ownership_pct": 90, "registered_capital": 1e10}
    )
    assert result.rating == "S"
    assert result.credit_limit == 50_000_000


def test_a_d_rating_from_the_scorecard_gets_no_credit(rules):
    result = rules.evaluate(
        {
            "registered_capital": 1e9,
            "litigation_count": 9,
            "negative_news_count": 9,
            "payment_history": "default",
        }
    )
    assert (result.rating, result.decided_by) == ("D", "scorecard")
    assert result.credit_limit == 0


def test_d_gets_no_credit_even_if_a_formula_would_grant_some(tmp_path):
    path = write_variant(
        tmp_path, lambda d: d["credit_limit"].update(formula="1000000.0 + facts.registered_capital")
    )
    result = load_rule_set(path).evaluate({"blacklisted": True, "registered_capital": 5e6})
    assert result.credit_limit == 0


def test_missing_facts_take_the_documented_defaults(rules):
    result = rules.evaluate({})
    assert result.facts == FACT_DEFAULTS
    # 5 + 3 + 20 + 15 + 25
    assert (result.score, result.rating) == (68.0, "C")


def test_to_dict_is_plain_json(rules):
    result = rules.evaluate(ORDINARY | {"dishonest_debtor": True})
    data = json.loads(json.dumps(result.to_dict()))
    assert data == result.to_dict()
    assert set(data) >= {
        "rating",
        "score",
        "risk_level",
        "credit_limit",
        "fired_rules",
        "contributions",
        "decided_by",
    }
    assert data["rule_set"] == "default"
    assert data["rule_set_version"] == 2


# --- facts ----------------------------------------------------------------


def test_facts_are_coerced_to_the_types_expressions_expect():
    facts = normalize_facts(
        {
            "registered_capital": Decimal("1500000.00"),
            "years_in_business": 3,
            "litigation_count": 2.0,
            "payment_history": " Good ",
            "ownership_type": "Central_SOE",
        }
    )
    assert facts["registered_capital"] == 1_500_000.0
    assert isinstance(facts["years_in_business"], float)
    assert facts["litigation_count"] == 2
    assert isinstance(facts["litigation_count"], int)
    assert facts["payment_history"] == "good"
    assert facts["ownership_type"] == "central_soe"


def test_none_means_missing():
    assert normalize_facts({"blacklisted": None}) == FACT_DEFAULTS


@pytest.mark.parametrize(
    ("facts", "key"),
    [
        ({"blacklist": True}, "blacklist"),
        ({"blacklisted": "yes"}, "blacklisted"),
        ({"registered_capital": "100"}, "registered_capital"),
        ({"registered_capital": -1}, "registered_capital"),
        ({"registered_capital": float("nan")}, "registered_capital"),
        ({"state_ownership_pct": 101}, "state_ownership_pct"),
        ({"litigation_count": 1.5}, "litigation_count"),
        ({"litigation_count": True}, "litigation_count"),
        ({"litigation_count": 10**20}, "litigation_count"),
        ({"payment_history": "late"}, "payment_history"),
        ({"ownership_type": 3}, "ownership_type"),
    ],
)
def test_bad_facts_are_refused_naming_the_fact(rules, facts, key):
    with pytest.raises(InvalidFactsError) as excinfo:
        rules.evaluate(facts)
    assert key in str(excinfo.value)
    assert key in excinfo.value.extra["errors"]
    assert isinstance(excinfo.value, ValidationFailed)


# --- validation at load -----------------------------------------------------


def test_rule_set_errors_are_definition_errors_and_value_errors(tmp_path):
    error = load_error(tmp_path, lambda d: d.pop("name"))
    assert isinstance(error, DefinitionError)
    assert isinstance(error, ValueError)


def test_an_unknown_rating_letter_is_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["rating_rules"][1].update(rating="E"))
    assert error.key == "rating_rules[1].rating"
    assert "S, A, B, C, D" in str(error)


def test_an_unknown_rating_letter_in_a_band_is_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["scorecard"]["bands"][0].update(rating="AA"))
    assert error.key == "scorecard.bands[0].rating"


def test_an_unknown_rating_letter_in_risk_levels_is_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["risk_levels"].update(E="high"))
    assert error.key == "risk_levels.E"


def test_an_unknown_risk_level_is_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["risk_levels"].update(B="severe"))
    assert error.key == "risk_levels.B"


def test_an_expression_that_does_not_parse_is_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["rating_rules"][0].update(when="facts.blacklisted &&"))
    assert error.key == "rating_rules[0].when"
    assert "does not parse" in str(error)


def test_a_score_expression_that_does_not_parse_is_refused(tmp_path):
    error = load_error(
        tmp_path, lambda d: d["scorecard"]["indicators"][2].update(score="facts.litigation_count ?")
    )
    assert error.key == "scorecard.indicators[2].score"


def test_a_formula_that_does_not_parse_is_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["credit_limit"].update(formula="multiplier *"))
    assert error.key == "credit_limit.formula"


def test_an_expression_using_an_unknown_variable_is_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["rating_rules"][0].update(when="fact.blacklisted"))
    assert error.key == "rating_rules[0].when"
    assert "may use facts" in str(error)


def test_macro_variables_are_not_mistaken_for_unknown_names(tmp_path):
    path = write_variant(
        tmp_path,
        lambda d: d["rating_rules"][0].update(
            when="['central_soe', 'local_soe'].exists(t, t == facts.ownership_type) && facts.blacklisted"
        ),
    )
    rule_set = load_rule_set(path)
    assert rule_set.evaluate({"blacklisted": True, "ownership_type": "local_soe"}).rating == "D"
    assert rule_set.evaluate({"blacklisted": False, "ownership_type": "local_soe"}).rating != "D"


def test_a_misspelt_fact_is_caught_at_load(tmp_path):
    error = load_error(tmp_path, lambda d: d["rating_rules"][0].update(when="facts.blacklist"))
    assert error.key == "rating_rules[0].when"
    assert "blacklist" in str(error)


def test_mixing_int_and_double_arithmetic_is_caught_at_load(tmp_path):
    error = load_error(
        tmp_path,
        lambda d: d["scorecard"]["indicators"][0].update(
            score="facts.registered_capital / 1000000"
        ),
    )
    assert error.key == "scorecard.indicators[0].score"
    assert "80.0" in str(error)


def test_a_condition_that_is_not_boolean_is_caught_at_load(tmp_path):
    error = load_error(
        tmp_path, lambda d: d["rating_rules"][0].update(when="facts.litigation_count")
    )
    assert error.key == "rating_rules[0].when"
    assert "true or false" in str(error)


def test_a_score_above_100_is_caught_at_load(tmp_path):
    error = load_error(
        tmp_path,
        lambda d: d["scorecard"]["indicators"][3].update(score="facts.negative_news_count * 50"),
    )
    assert error.key == "scorecard.indicators[3].score"
    assert "0 to 100" in str(error)


def test_weights_that_do_not_sum_to_one_are_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["scorecard"]["indicators"][0].update(weight=0.3))
    assert error.key == "scorecard.indicators"
    assert "sum to 1.05" in str(error)


def test_a_zero_weight_is_refused(tmp_path):
    def change(d):
        d["scorecard"]["indicators"][0]["weight"] = 0
        d["scorecard"]["indicators"][1]["weight"] = 0.4

    error = load_error(tmp_path, change)
    assert error.key == "scorecard.indicators[0].weight"


def test_bands_leaving_low_scores_uncovered_are_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["scorecard"]["bands"][-1].update(min=10))
    assert error.key == "scorecard.bands[3].min"
    assert "min: 0" in str(error)


def test_bands_out_of_order_are_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["scorecard"]["bands"][1].update(min=90))
    assert error.key == "scorecard.bands[1].min"


def test_duplicate_band_boundaries_are_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["scorecard"]["bands"][1].update(min=85))
    assert error.key == "scorecard.bands[1].min"


def test_a_band_above_100_is_refused(tmp_path):
    error = load_error(tmp_path, lambda d: d["scorecard"]["bands"][0].update(min=101))
    assert error.key == "scorecard.bands[0].min"


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d.pop("version"), "version"),
        (lambda d: d.pop("credit_limit"), "credit_limit"),
        (lambda d: d["rating_rules"][2].pop("reason"), "rating_rules[2].reason"),
        (lambda d: d["rating_rules"][2]["reason"].pop("en"), "rating_rules[2].reason.en"),
        (lambda d: d["scorecard"]["indicators"][4].pop("weight"), "scorecard.indicators[4].weight"),
        (lambda d: d["risk_levels"].pop("C"), "risk_levels.C"),
        (lambda d: d["credit_limit"]["multipliers"].pop("A"), "credit_limit.multipliers.A"),
        (lambda d: d["credit_limit"].pop("cap"), "credit_limit.cap"),
    ],
)
def test_missing_keys_are_named(tmp_path, change, key):
    error = load_error(tmp_path, change)
    assert error.key == key
    assert "missing" in str(error)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d.update(rules=[]), "rules"),
        (lambda d: d["rating_rules"][0].update(score=1), "rating_rules[0].score"),
        (lambda d: d["scorecard"].update(weights={}), "scorecard.weights"),
        (
            lambda d: d["scorecard"]["indicators"][0].update(wieght=0.25),
            "scorecard.indicators[0].wieght",
        ),
        (lambda d: d["credit_limit"].update(floor=0), "credit_limit.floor"),
        (lambda d: d["rating_rules"][0]["reason"].update(fr="x"), "rating_rules[0].reason.fr"),
    ],
)
def test_unknown_keys_are_named(tmp_path, change, key):
    error = load_error(tmp_path, change)
    assert error.key == key
    assert "unknown key" in str(error)


@pytest.mark.parametrize(
    ("change", "key"),
    [
        (lambda d: d.update(version=0), "version"),
        (lambda d: d.update(version="1"), "version"),
        (lambda d: d.update(rating_rules=[]), "rating_rules"),
        (lambda d: d["rating_rules"][1].update(id="blacklisted"), "rating_rules[1].id"),
        (lambda d: d["rating_rules"][0].update(when=True), "rating_rules[0].when"),
        (
            lambda d: d["scorecard"]["indicators"][0].update(id="revenue"),
            "scorecard.indicators[0].id",
        ),
        (
            lambda d: d["scorecard"]["indicators"][0].update(fact="revenue"),
            "scorecard.indicators[0].fact",
        ),
        (lambda d: d["credit_limit"].update(cap=-1), "credit_limit.cap"),
        (lambda d: d["credit_limit"].update(round_to=0), "credit_limit.round_to"),
        (lambda d: d["credit_limit"]["multipliers"].update(B="0.2"), "credit_limit.multipliers.B"),
    ],
)
def test_bad_values_are_named(tmp_path, change, key):
    assert load_error(tmp_path, change).key == key


def test_an_indicator_may_read_a_fact_under_another_id(tmp_path):
    def change(d):
        d["scorecard"]["indicators"][0]["id"] = "capital_strength"
        d["scorecard"]["indicators"][0]["fact"] = "registered_capital"

    result = load_rule_set(write_variant(tmp_path, change)).evaluate(ORDINARY)
    assert result.contributions[0]["indicator"] == "capital_strength"
    assert result.contributions[0]["value"] == 10_000_000.0


def test_invalid_yaml_is_refused():
    with pytest.raises(RuleSetError) as excinfo:
        parse_rule_set("name: [unclosed", "broken.yaml")
    assert "broken.yaml" in str(excinfo.value)
    assert "not valid YAML" in str(excinfo.value)


def test_duplicate_yaml_keys_are_refused_rather_than_silently_overwritten():
    text = DEFAULT_PATH.read_text(encoding="utf-8") + "\nversion: 2\n"
    with pytest.raises(RuleSetError, match="duplicate key 'version'"):
        parse_rule_set(text, "dup.yaml")


def test_a_document_that_is_not_a_mapping_is_refused():
    with pytest.raises(RuleSetError, match="must be a mapping"):
        parse_rule_set("- just a list", "list.yaml")


def test_a_missing_file_is_refused_with_its_path(tmp_path):
    with pytest.raises(RuleSetError, match="nope.yaml"):
        load_rule_set(tmp_path / "nope.yaml")


def test_the_content_hash_changes_with_the_content():
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    assert parse_rule_set(text).content_hash != parse_rule_set(text + "\n# edited\n").content_hash


def test_an_expression_failing_only_on_rare_facts_names_its_key_when_it_fails(tmp_path):
    # given a score expression that the load-time samples do not reach
    path = write_variant(
        tmp_path,
        lambda d: d["scorecard"]["indicators"][2].update(
            score="facts.litigation_count == 7 ? 100 / (facts.litigation_count - 7) : 100"
        ),
    )
    rule_set = load_rule_set(path)
    # when facts reach it, then the error names the file and key, not the facts
    with pytest.raises(RuleSetError) as excinfo:
        rule_set.evaluate({"litigation_count": 7})
    assert excinfo.value.key == "scorecard.indicators[2].score"
    assert str(path) in str(excinfo.value)


def test_a_natural_person_is_never_scored_on_registered_capital_or_business_age() -> None:
    rules = load_default_rule_set()
    person = rules.evaluate({"client_type": "natural_person", "litigation_count": 3})
    assert [c["indicator"] for c in person.contributions] == [
        "litigation_count",
        "negative_news_count",
        "payment_history",
    ]
    assert math.isclose(sum(c["weight"] for c in person.contributions), 1.0, abs_tol=1e-3)
    # a capital a person's record could not have changes nothing
    rich = rules.evaluate(
        {"client_type": "natural_person", "litigation_count": 3, "registered_capital": 1e9}
    )
    assert (rich.score, rich.credit_limit) == (person.score, person.credit_limit)
    # their limit is a share of the reference amount by rating
    assert person.credit_limit == int(1_000_000 * {"A": 0.3, "B": 0.2, "C": 0.1}[person.rating])
    # a company is still scored on all five indicators
    assert len(rules.evaluate({"registered_capital": 1e9}).contributions) == 5


def test_an_applies_condition_is_checked_when_the_rule_set_loads() -> None:
    text = DEFAULT_PATH.read_text(encoding="utf-8")
    broken = text.replace(
        "applies: \"facts.client_type != 'natural_person'\"", 'applies: "facts.nonsense"', 1
    )
    with pytest.raises(RuleSetError) as caught:
        parse_rule_set(broken, "default.yaml")
    assert "scorecard.indicators[0].applies" in str(caught.value)
