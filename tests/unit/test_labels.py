"""Every coded value of the customer-risk domain has its words in both languages, declared
once in workflow/risk/labels.py."""

from __future__ import annotations

from workflow.risk import labels
from workflow.risk.alerts.intake import CATEGORIES, LEVELS
from workflow.risk.alerts.sla import STATE_STAGE
from workflow.risk.clients.model import OWNERSHIP_TYPES, RISK_LEVELS, SENSITIVE_FIELDS, STATUSES
from workflow.risk.clients.validation import ClientFieldsSchema
from workflow.risk.due_diligence.review import PARENT_TRIGGERS
from workflow.risk.screening.names import PATHS
from workflow.risk.screening.rules import PAYMENT_HISTORIES
from workflow.risk.screening.watchlist_files import LISTS


def test_every_value_has_english_and_chinese_words() -> None:
    for table, values in (
        (labels.STATUSES, STATUSES),
        (labels.OWNERSHIP_TYPES, OWNERSHIP_TYPES),
        (labels.RISK_LEVELS, RISK_LEVELS),
        (labels.PAYMENT_HISTORIES, PAYMENT_HISTORIES),
        (labels.ALERT_LEVELS, LEVELS),
        (labels.ALERT_CATEGORIES, CATEGORIES),
        (labels.ALERT_STAGES, set(STATE_STAGE.values())),
        (labels.REVIEW_OUTCOMES, PARENT_TRIGGERS),
        (labels.FIELDS, {*SENSITIVE_FIELDS, *ClientFieldsSchema().fields}),
        (labels.WATCHLISTS, LISTS),
        (labels.NAME_MATCH_PATHS, PATHS),
        (labels.MATCH_CERTAINTIES, ("certain", "possible")),
    ):
        for value in values:
            assert set(table[value]) == {"en", "zh-CN"}, value
            assert all(table[value].values()), value


def test_a_value_is_worded_in_the_language_asked_and_unknown_ones_stay_as_they_are() -> None:
    assert labels.word(labels.LEVELS, "red", "zh-CN") == "红色"
    assert labels.word(labels.LEVELS, "high", "en") == "High"
    assert labels.word(labels.CHOICES, "negative_news", "zh-CN") == "负面舆情"
    assert labels.word(labels.STATUSES, "archived", "zh-CN") == "archived"
