"""Group robots (WeCom, DingTalk, Feishu) configured per routing rule, against a real HTTP
server on 127.0.0.1: each robot's message format and signature, which rule's channels an
alert reaches, retries of a rate-limited robot, an incident for a refusing one, and a bad
channel stopping start-up with the file, key and fix."""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import urllib.parse
from collections.abc import Iterator
from datetime import timedelta
from pathlib import Path
from typing import Any

import pytest
from flask import Flask
from sqlalchemy import select

from api.extensions import db
from tests.support.alerts import alert_body, make_client
from tests.support.app import Api, drain, lent_without_sender, make_app
from tests.support.robots import RobotServer, definitions_with_channels, robot_server
from workflow.errors import DefinitionError
from workflow.platform import clock
from workflow.records.models import Incident, OutboxMessage
from workflow.risk.notify.robots import send_group_digests

pytestmark = pytest.mark.usefixtures("webhook_secret")  # alert intake is open

DINGTALK_SECRET = "SECdingtalk-test-secret"
FEISHU_SECRET = "feishu-test-secret"
CHANNELS = [{"type": "wecom", "url": "${RISKLOOP_TEST_WECOM_URL}"}]
RULE_CHANNELS = {
    0: [  # level black
        {
            "type": "dingtalk",
            "url": "${RISKLOOP_TEST_DINGTALK_URL}",
            "secret": "${RISKLOOP_TEST_DINGTALK_SECRET}",
        }
    ],
    1: [  # litigation, dishonest debtors
        {
            "type": "feishu",
            "url": "${RISKLOOP_TEST_FEISHU_URL}",
            "secret": "${RISKLOOP_TEST_FEISHU_SECRET}",
            "language": "en",
            "events": ["alert_raised", "alert_digest"],
        }
    ],
}


@pytest.fixture
def robots(monkeypatch: pytest.MonkeyPatch) -> Iterator[RobotServer]:
    with robot_server() as server:
        monkeypatch.setenv("RISKLOOP_TEST_WECOM_URL", server.url("/wecom?key=wecom-key"))
        monkeypatch.setenv("RISKLOOP_TEST_DINGTALK_URL", server.url("/dingtalk?access_token=t1"))
        monkeypatch.setenv("RISKLOOP_TEST_DINGTALK_SECRET", DINGTALK_SECRET)
        monkeypatch.setenv("RISKLOOP_TEST_FEISHU_URL", server.url("/feishu/hook/abc"))
        monkeypatch.setenv("RISKLOOP_TEST_FEISHU_SECRET", FEISHU_SECRET)
        yield server


@pytest.fixture
def robot_app(
    db_url: str, tmp_path: Path, monkeypatch: pytest.MonkeyPatch, robots: RobotServer
) -> Iterator[Flask]:
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    folder = definitions_with_channels(tmp_path / "definitions", CHANNELS, RULE_CHANNELS)
    app = make_app(db_url, tmp_path, RISKLOOP_DEFINITIONS=str(folder))
    with lent_without_sender(app):  # the test drains the outbox
        yield app


def raise_alert(app: Flask, **over: Any) -> int:
    cid = make_client(app, owner="sales1")
    response = Api(app.test_client()).post("risk1", "/api/v1/alerts", json=alert_body(cid, **over))
    assert response.status_code == 201, response.get_json()
    return int(response.get_json()["id"])


def outbox(app: Flask, task: str) -> list[OutboxMessage]:
    with app.app_context():
        return list(
            db.session.execute(
                select(OutboxMessage).where(OutboxMessage.task == task).order_by(OutboxMessage.id)
            ).scalars()
        )


def expected_sign(key: bytes, message: bytes) -> str:
    return base64.b64encode(hmac.new(key, message, hashlib.sha256).digest()).decode()


def test_each_robot_gets_its_own_format_and_signature_in_its_language(robot_app, robots):
    # given a black litigation alert: every alert's WeCom, the black rule's DingTalk and
    # the litigation rule's Feishu (English)
    raise_alert(robot_app, level="black", category="litigation", title="重大诉讼")
    drain(robot_app)

    (wecom,) = robots.on("/wecom")
    assert wecom.query == "key=wecom-key"
    assert wecom.body["msgtype"] == "markdown"
    assert wecom.body["markdown"]["content"].startswith("**【黑色】重大诉讼**\n")

    (ding,) = robots.on("/dingtalk")
    query = urllib.parse.parse_qs(ding.query)
    assert query["access_token"] == ["t1"]
    timestamp = query["timestamp"][0]
    assert len(timestamp) == 13  # milliseconds
    assert query["sign"] == [
        expected_sign(DINGTALK_SECRET.encode(), f"{timestamp}\n{DINGTALK_SECRET}".encode())
    ]
    assert ding.body["msgtype"] == "markdown"
    assert ding.body["markdown"]["title"] == "【黑色】重大诉讼"
    assert ding.body["markdown"]["text"].startswith("#### 【黑色】重大诉讼\n\n")

    (feishu,) = robots.on("/feishu/hook/abc")
    assert feishu.body["msg_type"] == "text"
    assert len(feishu.body["timestamp"]) == 10  # seconds
    assert feishu.body["sign"] == expected_sign(
        f"{feishu.body['timestamp']}\n{FEISHU_SECRET}".encode(), b""
    )
    assert feishu.body["content"]["text"].startswith("[Black] 重大诉讼\n")
    assert "Litigation" in feishu.body["content"]["text"]


def test_an_alert_reaches_only_the_channels_of_the_rules_it_matches(robot_app, robots):
    raise_alert(robot_app, level="yellow", category="negative_news")
    drain(robot_app)

    assert [r.path for r in robots.received] == ["/wecom"]


def test_outbox_messages_name_the_channel_never_its_url_or_secret(robot_app, robots):
    raise_alert(robot_app, level="black", category="litigation")
    drain(robot_app)

    sent = outbox(robot_app, "send_robot")
    assert sorted(m.args["channel"] for m in sent) == [
        "routing.channels[0]",
        "routing.rules[0].channels[0]",
        "routing.rules[1].channels[0]",
    ]
    stored = json.dumps([m.args for m in sent])
    assert "wecom-key" not in stored and DINGTALK_SECRET not in stored
    assert "127.0.0.1" not in stored


def test_a_rate_limited_robot_is_retried_and_a_refusing_one_opens_an_incident(robot_app, robots):
    robots.answers["/wecom"] = [(200, {"errcode": 45009, "errmsg": "api freq out of limit"})]
    robots.answers["/wecom"].append((200, {"errcode": 0, "errmsg": "ok"}))
    robots.answers["/dingtalk"] = [(200, {"errcode": 310000, "errmsg": "sign not match"})]
    case = raise_alert(robot_app, level="black", category="negative_news")
    drain(robot_app)

    by_channel = {m.args["channel"]: m for m in outbox(robot_app, "send_robot")}
    wecom = by_channel["routing.channels[0]"]
    assert (wecom.status, wecom.attempts) == ("done", 2)
    assert len(robots.on("/wecom")) == 2
    ding = by_channel["routing.rules[0].channels[0]"]
    assert (ding.status, ding.attempts) == ("failed", 1)  # refused for good: not retried
    assert "310000" in (ding.last_error or "")
    with robot_app.app_context():
        incident = db.session.execute(
            select(Incident).where(Incident.task == "send_robot")
        ).scalar_one()
        assert incident.instance_id == case


def test_a_robot_answering_503_is_retried_until_it_takes_the_message(robot_app, robots):
    robots.answers["/wecom"] = [(503, {}), (200, {"errcode": 0, "errmsg": "ok"})]
    raise_alert(robot_app, level="yellow")
    drain(robot_app)

    (message,) = outbox(robot_app, "send_robot")
    assert (message.status, message.attempts) == ("done", 2)


def test_a_channel_taking_the_digest_gets_its_rules_alerts_once_a_day(robot_app, robots):
    raise_alert(robot_app, level="red", category="litigation", title="被诉")
    raise_alert(robot_app, level="yellow", category="negative_news", title="舆情")
    drain(robot_app)
    robots.received.clear()

    with robot_app.app_context():
        at = clock.now() + timedelta(minutes=1)
        assert send_group_digests(db.session, at) == ["routing.rules[1].channels[0]"]
        assert send_group_digests(db.session, at + timedelta(minutes=1)) == []  # once a day
        db.session.commit()
    drain(robot_app)

    (digest,) = robots.received
    assert digest.path == "/feishu/hook/abc"
    text = digest.body["content"]["text"]
    assert text.startswith("Alert digest ") and ": 1 new, 0 breached" in text
    assert "[Red]" in text and "被诉" in text and "Warned" in text
    assert "舆情" not in text  # not an alert of the litigation rule


@pytest.mark.parametrize(
    ("channel", "fix"),
    [
        ({"type": "slack", "url": "https://x"}, "use one of wecom, dingtalk, feishu"),
        (
            {"type": "wecom", "url": "${RISKLOOP_TEST_UNSET}"},
            "RISKLOOP_TEST_UNSET, which is not set",
        ),
        ({"type": "wecom", "url": "https://x", "secret": "s"}, "WeCom robots are not signed"),
        ({"type": "feishu", "url": "ftp://x"}, "url must be the robot's webhook address"),
        ({"type": "dingtalk", "url": "https://x", "language": "fr"}, "language must be one of"),
    ],
)
def test_a_bad_channel_stops_start_up_naming_the_file_key_and_fix(
    sqlite_url, tmp_path, monkeypatch, channel, fix
):
    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path / "instance"))
    monkeypatch.delenv("RISKLOOP_TEST_UNSET", raising=False)
    folder = definitions_with_channels(tmp_path / "definitions", [], {1: [channel]})

    with pytest.raises(DefinitionError) as refused:
        make_app(sqlite_url, tmp_path, RISKLOOP_DEFINITIONS=str(folder))

    assert refused.value.file == "alert_remediation.yaml"
    assert refused.value.key == "settings.routing.rules[1].channels[0]"
    assert fix in refused.value.detail
