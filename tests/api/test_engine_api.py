"""The generic API over a small test definition: every error class and the happy path."""

from __future__ import annotations

from api.extensions import db
from tests.support.app import drain
from workflow.engine import firing as engine
from workflow.records.identity import Actor


def start_case(app, by: str = "sales1") -> int:
    with app.app_context():
        inst = engine.start(
            db.session, "test_approval", Actor(by, frozenset({"sales"})), subject_id=1
        )
        db.session.commit()
        return inst.id


def test_a_case_is_submitted_and_approved_through_the_api(app, api):
    case = start_case(app)
    r = api.act("sales1", case, "submit", expected_version=1, comment="please")
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["instance"]["state"] == "pending"
    drain(app)
    detail = api.get("risk1", f"/api/v1/workflows/{case}").get_json()
    assert detail["data"]["notes"] == ["noted v2"]
    assert detail["available_actions"] == ["approve", "reject"]
    r = api.act("risk1", case, "approve", amount=5000, expected_version=2)
    assert r.status_code == 200, r.get_json()
    assert r.get_json()["instance"]["state"] == "approved"
    audit = api.get("risk1", f"/api/v1/workflows/{case}/audit").get_json()["items"]
    assert [(a["kind"], a["trigger"], a["to_state"]) for a in audit] == [
        ("started", None, "draft"),
        ("transition", "submit", "pending"),
        ("transition", "approve", "approved"),
    ]
    assert audit[2]["prev_hash"] == audit[1]["hash"]


def test_each_error_has_its_own_problem_document(app, api):
    case = start_case(app)
    api.act("sales1", case, "submit")
    cases = [
        (api.act("risk1", case, "approve", amount=1, expected_version=1), 409, "version-conflict"),
        (api.act("risk1", case, "submit"), 409, "illegal-state"),
        (api.act("risk1", case, "fly"), 404, "unknown-action"),
        (api.act("legal1", case, "approve", amount=1), 403, "forbidden"),
        (api.act("sales2", case, "approve", amount=1), 404, "not-found"),
        (api.act("risk1", case, "approve"), 422, "validation"),
        (api.act("risk1", case, "approve", amount="x"), 422, "validation"),
        (api.act("risk1", case, "approve", amount=1, bogus=1), 422, "validation"),
        (api.act("risk1", case, "approve", amount=5_000_000), 422, "condition-not-met"),
        (api.act("risk1", case, "reject"), 422, "validation"),
        (api.get(None, f"/api/v1/workflows/{case}"), 401, "unauthenticated"),
        (api.get("risk1", "/api/v1/workflows/999999"), 404, "not-found"),
        (api.get("risk1", "/api/v1/nope"), 404, "not-found"),
        (api.call("DELETE", "risk1", f"/api/v1/workflows/{case}"), 405, "method-not-allowed"),
        (
            api.post(
                "risk1",
                f"/api/v1/workflows/{case}/actions/approve",
                data="{bad json",
                content_type="application/json",
            ),
            400,
            "malformed-json",
        ),
    ]
    for response, status, slug in cases:
        body = response.get_json()
        assert response.status_code == status, (slug, body)
        assert response.mimetype == "application/problem+json"
        assert body["type"].endswith(slug), (slug, body)
        assert body["status"] == status and body["title"]
    # nothing changed: still pending at version 2
    detail = api.get("risk1", f"/api/v1/workflows/{case}").get_json()
    assert (detail["state"], detail["version"]) == ("pending", 2)


def test_the_requester_may_not_approve_their_own_request(app, api):
    with app.app_context():
        # risk1 raised the case (as a sales colleague would) and it was submitted
        inst = engine.start(
            db.session,
            "test_approval",
            Actor("risk1", frozenset({"risk_officer"})),
            assignees=["sales1"],
        )
        db.session.flush()
        engine.fire(db.session, inst.id, "submit", Actor("sales1", frozenset({"sales"})))
        db.session.commit()
        case = inst.id
    r = api.act("risk1", case, "approve", amount=1)
    assert r.status_code == 403
    assert r.get_json()["rule"] == "not_initiator"


def test_an_idempotency_key_replays_the_first_result(app, api):
    case = start_case(app)
    headers = {"Idempotency-Key": "abc-123"}
    first = api.post("sales1", f"/api/v1/workflows/{case}/actions/submit", json={}, headers=headers)
    second = api.post(
        "sales1", f"/api/v1/workflows/{case}/actions/submit", json={}, headers=headers
    )
    assert first.status_code == second.status_code == 200
    assert second.get_json()["replayed"] is True
    assert second.get_json()["instance"]["version"] == 2
    audit = api.get("risk1", f"/api/v1/workflows/{case}/audit").get_json()["items"]
    assert len(audit) == 2


def test_login_failures_are_refused_and_tokens_expire(app, api, client):
    r = client.post("/api/v1/auth/token", json={"username": "risk1", "password": "wrong-password"})
    assert r.status_code == 401
    r = client.post("/api/v1/auth/token", json={"username": "risk1"})
    assert r.status_code == 422 and "password" in r.get_json()["errors"]
    r = client.post("/api/v1/auth/token", json={"username": "risk1", "password": "x", "extra": 1})
    assert r.status_code == 422 and "extra" in r.get_json()["errors"]
    r = api.get("risk1", "/api/v1/definitions", headers={})
    assert r.status_code == 200


def test_openapi_document_and_offline_docs_are_served(client):
    spec = client.get("/api/v1/openapi.json")
    assert spec.status_code == 200
    paths = spec.get_json()["paths"]
    assert "/api/v1/workflows/{instance_id}/actions/{trigger}" in paths
    page = client.get("/api/docs")
    assert (
        page.status_code == 200
        and b"docs-init.js" in page.data
        and b"http"
        not in page.data.split(b"<body>")[1].split(b"</body>")[0].replace(b"data-spec-url", b"")
    )
    assert client.get("/api/docs/static/swagger-ui-bundle.js").status_code == 200


def test_health_and_readiness(client):
    assert client.get("/healthz").get_json() == {"status": "ok"}
    ready = client.get("/readyz")
    assert ready.status_code == 200 and ready.get_json()["checks"]["database"] == "ok"
    client.application.config["RISKLOOP_METRICS_TOKEN"] = "scrape"  # PostgreSQL: production mode
    metrics = client.get("/metrics", headers={"Authorization": "Bearer scrape"})
    assert b"riskloop_http_requests_total" in metrics.data
    # Prometheus' own content type, as is (no second charset parameter appended).
    assert metrics.headers["Content-Type"].count("charset") == 1


def test_inbox_lists_what_the_caller_can_do_now(app, api):
    a, b = start_case(app), start_case(app)
    api.act("sales1", a, "submit")
    api.act("sales1", b, "submit")
    risk = api.get("risk1", "/api/v1/tasks").get_json()["items"]
    assert {i["id"] for i in risk} == {a, b}
    sales = api.get("sales1", "/api/v1/tasks").get_json()["items"]
    assert {i["id"] for i in sales} == {a, b}  # sales may withdraw
    assert all(i["available_actions"] == ["withdraw"] for i in sales)
    assert api.get("auditor1", "/api/v1/tasks").get_json()["items"] == []


def test_a_body_over_the_limit_is_a_413_problem(app, api):
    app.config["MAX_CONTENT_LENGTH"] = 1024
    case = start_case(app)
    r = api.post(
        "sales1",
        f"/api/v1/workflows/{case}/actions/submit",
        data="{" + " " * 4096 + "}",
        content_type="application/json",
    )
    assert r.status_code == 413 and r.mimetype == "application/problem+json"


def test_an_unreachable_database_answers_503_and_the_app_still_starts(tmp_path, monkeypatch):
    from tests.support.app import TEST_KEYS

    monkeypatch.setenv("RISKLOOP_INSTANCE_PATH", str(tmp_path))
    from api import create_app

    app = create_app(
        {"DATABASE_URL": "postgresql+psycopg://postgres@127.0.0.1:9/nowhere", **TEST_KEYS}
    )
    client = app.test_client()
    r = client.post("/api/v1/auth/token", json={"username": "risk1", "password": "whatever-it-is"})
    assert r.status_code == 503 and r.get_json()["type"].endswith("unavailable")
    assert r.headers["Retry-After"]
    ready = client.get("/readyz")
    assert ready.status_code == 503 and ready.get_json()["checks"]["database"].startswith(
        "unavailable"
    )


def test_sales_see_who_did_what_but_not_the_payload_of_others_actions(app, api):
    case = start_case(app)
    api.act("sales1", case, "submit", comment="please")
    api.act("risk1", case, "approve", amount=42, comment="fine")
    mine = {
        r["trigger"]: r
        for r in api.get("sales1", f"/api/v1/workflows/{case}/audit").get_json()["items"]
    }
    assert mine["approve"]["payload"] == {} and mine["approve"]["payload_hidden"] is True
    assert mine["approve"]["actor"] == "risk1" and mine["approve"]["comment"] == "fine"
    full = {
        r["trigger"]: r
        for r in api.get("auditor1", f"/api/v1/workflows/{case}/audit").get_json()["items"]
    }
    assert full["approve"]["payload"] == {"amount": 42}


def test_a_nul_character_in_input_is_a_422_not_a_500(api, client):
    r = client.post(
        "/api/v1/auth/token", json={"username": "risk1\u0000", "password": "whatever-it-is"}
    )
    assert r.status_code in (401, 422) and r.mimetype == "application/problem+json"
    assert api.get("risk1", "/api/v1/workflows?state=a%00b").status_code in (200, 422)
