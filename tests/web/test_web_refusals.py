"""The engine's refusals and field messages reach the console in the reader's language:
coded refusals (version conflict, role, segregation of duties, duplicate, invalid input)
are worded per code, field messages per code (marshmallow's too), and the API keeps
its English problem documents without the console's codes."""

from __future__ import annotations

import re
from typing import Any

import pytest
from flask import Flask
from marshmallow import ValidationError, fields, validate

from api.extensions import db
from tests.support.app import PASSWORD, Api
from tests.support.cases import start_case, state_of
from tests.support.console import Console
from tests.support.english import RISK1, SALES, credit_code, make_client
from workflow.errors import Forbidden, Message, NotFound, RiskloopError
from workflow.field_messages import Schema
from workflow.risk import sensitive_edit

LANGS = ["zh_CN", "en"]
# Where a refusal is written on a page: the flash above the forms, the message beside a
# field, the detail of an error page.
REFUSAL = re.compile(
    r'<(?:p class="flash error[^"]*"|span class="err"[^>]*|p class="detail")[^>]*>'
    r"(.*?)</(?:p|span)>",
    re.S,
)
ENGLISH_SENTENCE = re.compile(r"[A-Za-z]+(?:[ ,;:'’\-]+[A-Za-z]+){2,}")
CJK = re.compile(r"[\u3400-\u4dbf\u4e00-\u9fff]")


def console_in(console_factory: Any, lang: str, username: str) -> Console:  # noqa: ANN401
    console = console_factory()
    console.post("/language", {"lang": lang, "next": "/login"}, token_from="/login")
    assert console.login(username, PASSWORD).status_code == 302
    return console


def refusals(html: str) -> list[str]:
    found = [re.sub(r"<[^>]+>", " ", m) for m in REFUSAL.findall(html)]
    assert found, "no refusal on the page"
    return found


def assert_in_language(html: str, lang: str) -> str:
    """The refusals of ``html`` in ``lang``; no engine detail left in small print."""
    texts = refusals(html)
    assert 'class="original"' not in html, "a refusal without a known code"
    for text in texts:
        if lang == "zh_CN":
            assert ENGLISH_SENTENCE.search(text) is None, text
            assert CJK.search(text), text
        else:
            assert CJK.search(text) is None, text
    return " ".join(texts)


@pytest.mark.parametrize("lang", LANGS)
def test_a_version_conflict_says_someone_acted_first(
    console_factory, app: Flask, lang: str
) -> None:
    case_id = start_case(app)
    risk = console_in(console_factory, lang, "risk1")
    response = risk.post(
        f"/cases/{case_id}/actions/approve",
        {"p_amount": "1", "expected_version": "1"},
        token_from=f"/cases/{case_id}",
    )
    assert response.status_code == 409
    said = assert_in_language(response.get_data(as_text=True), lang)
    assert ("已有人先处理" if lang == "zh_CN" else "Someone acted first") in said
    assert state_of(app, case_id) == ("pending", 2)


@pytest.mark.parametrize("lang", LANGS)
def test_an_action_the_role_may_not_do_names_the_roles(
    console_factory, app: Flask, lang: str
) -> None:
    case_id = start_case(app)
    sales = console_in(console_factory, lang, "sales1")
    response = sales.post(
        f"/cases/{case_id}/actions/approve",
        {"p_amount": "1", "expected_version": "2"},
        token_from=f"/cases/{case_id}",
    )
    assert response.status_code == 403
    said = assert_in_language(response.get_data(as_text=True), lang)
    assert ("风控专员" if lang == "zh_CN" else "Risk officer") in said
    assert state_of(app, case_id) == ("pending", 2)


@pytest.mark.parametrize("lang", LANGS)
def test_a_second_approval_by_the_first_approver_gives_the_rule(
    console_factory, app: Flask, lang: str
) -> None:
    """Given a change request risk1 approved first, when risk1 approves again, the page
    says the segregation-of-duties rule in the reader's language."""
    with app.app_context():
        client_id = make_client("Acme Trading Co", 2001)
        change = sensitive_edit.request_sensitive_edit(
            db.session, client_id, {"credit_limit": "2000000"}, "larger orders expected", SALES
        )
        db.session.commit()
        case_id = change.id
    risk = console_in(console_factory, lang, "risk1")
    first = risk.post(
        f"/cases/{case_id}/actions/approve",
        {"expected_version": "1"},
        token_from=f"/cases/{case_id}",
    )
    assert first.status_code == 302, first.get_data(as_text=True)
    response = risk.post(
        f"/cases/{case_id}/actions/approve",
        {"expected_version": "2"},
        token_from=f"/cases/{case_id}",
    )
    assert response.status_code == 403
    said = assert_in_language(response.get_data(as_text=True), lang)
    assert ("职责分离" if lang == "zh_CN" else "Segregation of duties") in said
    assert ("第一审批通过" if lang == "zh_CN" else "First approval") in said
    assert state_of(app, case_id) == ("first_approved", 2)


@pytest.mark.parametrize("lang", LANGS)
def test_invalid_action_input_is_worded_beside_each_field(
    console_factory, app: Flask, lang: str
) -> None:
    case_id = start_case(app)
    risk = console_in(console_factory, lang, "risk1")
    no_comment = risk.post(
        f"/cases/{case_id}/actions/reject",
        {"expected_version": "2"},
        token_from=f"/cases/{case_id}",
    )
    assert no_comment.status_code == 422
    said = assert_in_language(no_comment.get_data(as_text=True), lang)
    assert ("须填写意见" if lang == "zh_CN" else "A comment is required") in said
    negative = risk.post(
        f"/cases/{case_id}/actions/approve",
        {"p_amount": "-5", "expected_version": "2"},
        token_from=f"/cases/{case_id}",
    )
    assert negative.status_code == 422
    said = assert_in_language(negative.get_data(as_text=True), lang)
    assert ("至少 0" if lang == "zh_CN" else "at least 0") in said
    assert state_of(app, case_id) == ("pending", 2)


@pytest.mark.parametrize("lang", LANGS)
def test_the_client_form_words_every_field_message(console_factory, app: Flask, lang: str) -> None:
    sales = console_in(console_factory, lang, "sales1")
    code = credit_code(3001)
    wrong_check = code[:17] + ("0" if code[17] != "0" else "1")
    response = sales.post(
        "/clients/new",
        {
            "name": "",
            "credit_code": wrong_check,
            "contact_name": "Jane Doe",
            "contact_phone": "call me",
            "registered_capital": "-1",
        },
        token_from="/clients/new",
    )
    assert response.status_code == 422
    html = response.get_data(as_text=True)
    said = assert_in_language(html, lang)
    for field in ("credit_code", "contact_phone", "registered_capital"):
        assert f'data-error-for="{field}"' in html, field
    assert ("校验码" if lang == "zh_CN" else "check character") in said


@pytest.mark.parametrize("lang", LANGS)
def test_a_duplicate_credit_code_points_at_the_existing_client(
    console_factory, app: Flask, lang: str
) -> None:
    with app.app_context():
        existing = make_client("Acme Trading Co", 3002)
        db.session.commit()
    sales = console_in(console_factory, lang, "sales1")
    response = sales.post(
        "/clients/new",
        {"name": "Acme Again", "credit_code": credit_code(3002)},
        token_from="/clients/new",
    )
    assert response.status_code == 409
    said = assert_in_language(response.get_data(as_text=True), lang)
    assert f"#{existing}" in said


def test_an_uncoded_refusal_gets_its_class_sentence_and_keeps_the_detail(app: Flask) -> None:
    from web.refusals import refusal

    with app.test_request_context("/inbox"):
        app.preprocess_request()
        said = refusal(Forbidden("a rule no console code knows"))
        assert said.text == "您无权执行此操作。"
        assert 'lang="en">a rule no console code knows</small>' in said.__html__()
        assert refusal(NotFound("gone")).text == "记录不存在，或您无权查看。"
        assert refusal(RiskloopError("odd")).text == "请求未能完成。"


def test_field_messages_keep_their_nesting_and_are_worded_by_code(app: Flask) -> None:
    from web.refusals import field_messages

    class Form(Schema):
        amount = fields.Integer()
        name = fields.String(validate=validate.Length(min=1))

    with pytest.raises(ValidationError) as raised:
        Form().load({"amount": "many", "name": ""})
    assert raised.value.messages == {
        "amount": ["Not a valid integer."],  # marshmallow's English
        "name": ["Shorter than minimum length 1."],
    }
    errors = {
        "checklist": {
            "ownership": [
                Message("checklist.finding_required", "A finding (text) is required."),
                Message(
                    "checklist.risk_grade",
                    "The risk must be one of low, high.",
                    grades=["low", "high"],
                ),
            ]
        },
        **raised.value.messages,
        # Without a code, a message is shown as it is, even one that reads like marshmallow's.
        "note": ["something the console does not know"],
        "count": ["Not a valid integer."],
    }
    with app.test_request_context("/inbox"):
        app.preprocess_request()
        said = field_messages(errors)
    assert said == {
        "checklist": {"ownership": ["结论必填。", "请选择风险等级：低、高。"]},
        "amount": ["不是整数。"],
        "name": ["至少 1 个字符。"],
        "note": ["something the console does not know"],
        "count": ["Not a valid integer."],
    }


def test_every_marshmallow_message_gets_a_code_the_console_words(app: Flask) -> None:
    """A marshmallow upgrade that adds or renames a message of the fields and validators the
    schemas use fails here, not silently on a page."""
    from web.texts import field_text
    from workflow.field_messages import field_code

    used = (
        fields.Boolean,
        fields.Integer,
        fields.Decimal,
        fields.Float,
        fields.Date,
        fields.DateTime,
        fields.Email,
        fields.Url,
        fields.String,
        fields.List,
        fields.Dict,
        fields.Nested,
        fields.Raw,
    )
    codes = {
        "field.unknown",
        "field.type",
        "length.min",
        "length.max",
        "length.between",
        "length.equal",
        "range.min",
        "range.max",
        "range.between",
        "choice.one_of",
        "regexp.mismatch",
    }
    for cls in used:
        field = cls(fields.String) if cls in (fields.List, fields.Nested) else cls()
        codes.update(field_code(field, key) for key in field.error_messages)
    params = {"min": 1, "max": 2, "equal": 3, "choices": ["low"]}
    with app.test_request_context("/inbox"):
        app.preprocess_request()
        unworded = sorted(code for code in codes if field_text(code, params) is None)
    assert unworded == []
    for text in (
        "Missing data for required field.",
        "Not a valid integer.",
        "Not a valid date.",
        "Shorter than minimum length {min}.",
        "Must be {min_op} {{min}}.",
    ):
        assert text in {
            *fields.Integer.default_error_messages.values(),
            *fields.Field.default_error_messages.values(),
            *fields.Date.default_error_messages.values(),
            validate.Length.message_min,
            validate.Range.message_min,
        }, text


def test_the_api_keeps_its_english_problem_documents(api: Api, app: Flask) -> None:
    case_id = start_case(app)
    response = api.act("sales1", case_id, "approve", payload={"amount": 1})
    body = response.get_json()
    assert response.status_code == 403
    assert body["detail"].startswith("'approve' needs one of the roles")
    # the machine code is an extension member of the problem document; the words stay English
    assert body["rule"] == "role" and body["code"] == "action.role" and "params" not in body


@pytest.mark.parametrize("lang", LANGS)
def test_evidence_refused_in_a_closed_stage_names_the_open_one(
    console_factory, app: Flask, lang: str
) -> None:
    """Given a fresh alert (warned), when risk1 uploads a file to it, the page says files
    are added while it is responded, in the reader's language, and nothing is stored."""
    import io

    from workflow.risk.alerts import intake as alerts
    from workflow.risk.due_diligence.evidence import Evidence

    with app.app_context():
        client_id = make_client("Acme Trading Co", 4001)
        raised = alerts.raise_alert(
            db.session,
            RISK1,
            {
                "client_id": client_id,
                "level": "red",
                "category": "negative_news",
                "title": "Late payments reported",
            },
        )
        db.session.commit()
        case_id = raised.instance.id
    risk = console_in(console_factory, lang, "risk1")
    response = risk.post(
        f"/cases/{case_id}/evidence",
        {"files": (io.BytesIO(b"%PDF-1.4 receipt"), "receipt.pdf", "application/pdf")},
        token_from=f"/cases/{case_id}",
        content_type="multipart/form-data",
    )
    assert response.status_code == 409
    said = assert_in_language(response.get_data(as_text=True), lang)
    assert ("“已响应”" if lang == "zh_CN" else "“Responded”") in said
    assert ("“已预警”" if lang == "zh_CN" else "“Warned”") in said
    with app.app_context():
        assert db.session.query(Evidence).filter_by(instance_id=case_id).count() == 0


@pytest.mark.parametrize(
    ("lang", "expected"),
    [
        (
            "zh_CN",
            [
                "只有经理可以将客户转交给其他销售人员。",
                "此操作需要以下角色之一：",
                "只能经双人审批后修改",
            ],
        ),
        (
            "en",
            [
                "Only a manager may hand a client to another sales user.",
                "This needs one of the roles: ",
                "can only be changed with a dual approval",
            ],
        ),
    ],
)
def test_the_client_services_refusals_carry_codes_the_console_words(
    app: Flask, lang: str, expected: list[str]
) -> None:
    from flask_babel import force_locale

    from web.refusals import refusal
    from workflow.records.identity import Actor
    from workflow.risk.clients import service as client_service

    with app.app_context():
        client_id = make_client("Acme Trading Co", 3003)
        refused = []
        for actor, changes in (
            (SALES, {"owner": "sales2"}),
            (Actor("legal1", frozenset({"legal"})), {"region": "x"}),
            (SALES, {"credit_limit": 1}),
        ):
            with pytest.raises(RiskloopError) as raised:
                client_service.update_client(db.session, client_id, changes, actor)
            assert raised.value.code is not None
            refused.append(raised.value)
        db.session.rollback()
    with app.test_request_context("/inbox"), force_locale(lang):
        said = [refusal(exc) for exc in refused]
    assert all(r.original is None for r in said)  # worded by code, not by the class sentence
    for text, words in zip(said, expected, strict=True):
        assert words in text.text, text.text
