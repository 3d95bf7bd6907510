"""Language coverage: every console page, seen by every role, speaks only English when
English is chosen (user data here is ASCII, so any CJK character is an untranslated
label), and the Chinese pages carry no untranslated English labels."""

from __future__ import annotations

import io
import re
from dataclasses import dataclass
from typing import Any

import pytest
from flask import Flask, session

from api.extensions import db
from tests.support.app import drain
from tests.support.console import Console
from tests.support.english import (
    CJK,
    RISK1,
    RISK2,
    SALES,
    make_client,
    untranslated,
)
from workflow.engine import firing as engine
from workflow.risk import onboarding, sensitive_edit
from workflow.risk.alerts import intake as alerts
from workflow.risk.due_diligence import evidence
from workflow.risk.due_diligence import review as due_diligence

HTML = {"Accept": "text/html,application/xhtml+xml"}  # as a browser asks
ROLES = {
    "sales": "sales1",
    "risk_officer": "risk1",
    "legal": "legal1",
    "manager": "manager1",
    "auditor": "auditor1",
    "admin": "admin",
}


@dataclass
class World:
    active_client: int
    pending_client: int
    cases: dict[str, int]


@pytest.fixture
def world(app: Flask) -> World:
    """One case of each product workflow, in a state with forms to show, all in ASCII."""
    with app.app_context():
        active = make_client("Acme Trading Co", 1001)
        admission = onboarding.start_admission(db.session, active, SALES)
        db.session.commit()
        admission_id = admission.id
    drain(app)
    with app.app_context():
        engine.fire(db.session, admission_id, "approve", RISK2, comment="documents complete")
        pending = make_client("Birch Logistics Ltd", 1002)
        onboarding_case = onboarding.start_admission(db.session, pending, SALES)
        db.session.commit()
        onboarding_id = onboarding_case.id
    drain(app)
    with app.app_context():
        review = due_diligence.open_review(db.session, active, RISK1, comment="annual review")
        db.session.flush()
        engine.fire(db.session, review.id, "start", RISK1)
        evidence.attach(
            db.session,
            review.id,
            RISK1,
            io.BytesIO(b"%PDF-1.4 report"),
            filename="annual-report.pdf",
            content_type="application/pdf",
        )
        change = sensitive_edit.request_sensitive_edit(
            db.session, active, {"credit_limit": "2000000"}, "larger orders expected", SALES
        )
        raised = alerts.raise_alert(
            db.session,
            RISK1,
            {
                "client_id": active,
                "level": "red",
                "category": "negative_news",
                "title": "Late payments reported",
            },
        )
        db.session.flush()
        alert_case = raised.instance.id
        engine.fire(
            db.session,
            alert_case,
            "respond",
            SALES,
            {"assessment": "temporary cash shortage", "plan": "pay within two weeks"},
        )
        db.session.commit()
        cases = {
            "client_onboarding": onboarding_id,
            "client_onboarding (closed)": admission_id,
            "due_diligence": review.id,
            "sensitive_edit": change.id,
            "alert_remediation": alert_case,
        }
    drain(app)
    return World(active_client=active, pending_client=pending, cases=cases)


def pages(world: World) -> list[str]:
    client = world.active_client
    return [
        "/inbox",
        "/inbox?overdue=1",
        "/inbox?level=red",
        "/inbox/count",
        "/clients",
        "/clients?q=Acme",
        "/clients?q=nothing-matches",
        f"/clients/{client}",
        f"/clients/{world.pending_client}",
        "/clients/new",
        f"/clients/{client}/changes/new",
        "/cases",
        *(f"/cases/{case}" for case in world.cases.values()),
        "/cases?definition=sensitive_edit&open=0",
        "/alerts",
        "/dashboard",
        "/audit",
        "/cases/999999",
        "/no-such-page",
    ]


def english_console(console_factory: Any, username: str | None = None) -> Console:  # noqa: ANN401
    console = console_factory()
    console.post("/language", {"lang": "en", "next": "/login"}, token_from="/login")
    if username:
        assert console.login(username).status_code == 302
    return console


def test_every_page_is_english_for_every_role(console_factory, app: Flask, world: World) -> None:
    found: dict[str, list[str]] = {}
    signed_out = english_console(console_factory)
    for path in ("/login", "/no-such-page"):
        page = signed_out.get(path, headers=HTML).get_data(as_text=True)
        assert '<html lang="en">' in page
        if untranslated(page):
            found[f"signed out {path}"] = untranslated(page)
    for role, username in ROLES.items():
        console = english_console(console_factory, username)
        seen = {}
        for path in pages(world):
            response = console.get(path, headers=HTML)
            seen[path] = response.status_code
            if untranslated(response.get_data(as_text=True)):
                found[f"{role} {path} ({response.status_code})"] = untranslated(
                    response.get_data(as_text=True)
                )
        # Forms refused or failing render in English too.
        refused = console.post(
            f"/cases/{world.cases['alert_remediation']}/actions/rectify",
            {"p_evidence": "", "expected_version": "0"},
            token_from=f"/cases/{world.cases['alert_remediation']}",
        )
        if untranslated(refused.get_data(as_text=True)):
            found[f"{role} rectify refused ({refused.status_code})"] = untranslated(
                refused.get_data(as_text=True)
            )
        expired = console.post("/alerts", {"title": "x"}, csrf=False)
        if untranslated(expired.get_data(as_text=True)):
            found[f"{role} missing CSRF"] = untranslated(expired.get_data(as_text=True))
        assert seen["/inbox"] == 200 and seen["/cases/999999"] == 404, (role, seen)
    auditor = english_console(console_factory, "auditor1")
    verify = auditor.post("/audit/verify", {}, token_from="/audit")
    assert verify.status_code == 200
    if untranslated(verify.get_data(as_text=True)):
        found["auditor verify"] = untranslated(verify.get_data(as_text=True))
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())


def test_every_error_page_is_english(app: Flask) -> None:
    from web.errors import error_page

    for status in (400, 401, 403, 404, 409, 413, 422, 500, 503):
        with app.test_request_context("/inbox"):
            session["lang"] = "en"
            app.preprocess_request()
            body = error_page(status).get_data(as_text=True)
        assert untranslated(body) == [], status


# The console's own words: headings, column heads, fields, buttons, choices, tooltips. Data
# (case data, field names of the record history, engine messages quoted in full) is not.
TEXT_NODE = re.compile(r"<(?:h1|h2|h3|th|button|summary|legend|label|option|nav)\b[^>]*>([^<>]+)<")
LABEL_ATTRIBUTE = re.compile(r'(?:title|placeholder|aria-label|alt)="([^"]+)"')
ENGLISH = re.compile(r"[A-Za-z]{2,}")
# Shown as-is in both languages: names of the product, formats, languages and roles'
# user names, and the user data of the world above.
NOT_LABELS = {
    "riskloop",
    "English",
    "SHA",
    "PDF",
    "CSV",
    "JSONL",
    "JSON",
    "Acme Trading Co",
    "Birch Logistics Ltd",
    "John Smith",
    "Jane Doe",
    "Late payments reported",
    "Shanghai",
    "trading",
    *ROLES.values(),
    "risk2",
    "system",
    "S",
    "A",
    "B",
    "C",
    "D",
}


def english_labels(html: str) -> list[str]:
    html = re.sub(r"<(pre|code|script|style)\b.*?</\1>", "", html, flags=re.S)
    found = set()
    for text in TEXT_NODE.findall(html) + LABEL_ATTRIBUTE.findall(html):
        text = text.strip()
        if not text or CJK.search(text) or text in NOT_LABELS:
            continue
        words = [w for w in ENGLISH.findall(text) if w not in NOT_LABELS]
        if words:
            found.add(text)
    return sorted(found)


def test_chinese_pages_have_no_untranslated_english_labels(
    console_factory, app: Flask, world: World
) -> None:
    found: dict[str, list[str]] = {}
    for role, username in ROLES.items():
        console = console_factory(username)
        for path in pages(world):
            words = english_labels(console.get(path, headers=HTML).get_data(as_text=True))
            if words:
                found[f"{role} {path}"] = words
    assert found == {}, "\n".join(f"{k}: {v}" for k, v in found.items())
