"""Proof 7 — authorisation matrix: every role × every API endpoint × own/other's data.

The expectations are the tables in ``tests/support/authz/table.py`` (written from SPEC);
``tests/support/authz/world.py`` builds the data and sends one request per cell. Every
``/api/v1`` route of the app must have rows, so a new endpoint cannot escape the matrix.
One app and database per module and database kind (SQLite, PostgreSQL); each row's
fixture is built once, and again only after a call changed it.
"""

from __future__ import annotations

import io
from collections.abc import Iterator
from typing import Any

import pytest
from flask import Flask

from api.extensions import db
from tests.support.app import Api, lent_without_sender, make_app
from tests.support.authz import world as w
from tests.support.authz.table import BODY_DECIDES, CALLERS, EXPECTED, MASKED, OWNERS, VISIBLE
from tests.support.databases import fresh_database
from workflow.records.models import Notification

IGNORED_METHODS = {"HEAD", "OPTIONS"}


@pytest.fixture(scope="module", params=["sqlite", "postgresql"])
def app(
    request: pytest.FixtureRequest, tmp_path_factory: pytest.TempPathFactory
) -> Iterator[Flask]:
    tmp = tmp_path_factory.mktemp("authz")
    with (
        pytest.MonkeyPatch.context() as mp,
        fresh_database(request.param, tmp, with_schema=True) as url,
    ):
        mp.setenv("RISKLOOP_INSTANCE_PATH", str(tmp / "instance"))
        app = make_app(
            url,
            tmp,
            RISKLOOP_WEBHOOK_SECRET=w.WEBHOOK_SECRET,
            RISKLOOP_LOGIN_RATE_LIMIT="1000 per minute",
        )
        with lent_without_sender(app):  # drain() runs background work in the test's thread
            yield app


@pytest.fixture(scope="module")
def api(app: Flask) -> Api:
    return Api(app.test_client())


@pytest.fixture(scope="module")
def world(app: Flask, api: Api) -> w.World:
    return w.World(app, api)


def user_of(caller: str) -> str | None:
    return None if caller == "anonymous" else caller


def api_routes(app: Flask) -> set[str]:
    return {
        f"{method} {rule.rule}"
        for rule in app.url_map.iter_rules()
        if rule.rule.startswith("/api/v1")
        for method in sorted((rule.methods or set()) - IGNORED_METHODS)
    }


def test_every_api_route_has_rows_in_the_table(app: Flask) -> None:
    routes = api_routes(app)
    in_table = {route for route, _ in EXPECTED}
    assert not routes - in_table, (
        f"add rows to tests/support/authz/table.py for: {sorted(routes - in_table)}"
    )
    assert not in_table - routes, (
        f"rows for routes the app does not have: {sorted(in_table - routes)}"
    )
    assert set(w.ROWS) == set(EXPECTED), (
        f"rows without a request: {sorted(set(EXPECTED) ^ set(w.ROWS))}"
    )
    assert all(len(row) == len(CALLERS) for row in EXPECTED.values())


def test_every_role_on_every_endpoint_matches_the_table(world: w.World, api: Api) -> None:
    mismatches: dict[str, tuple[int, int, Any]] = {}
    allowed = denied = 0
    for (route, scenario), expected in EXPECTED.items():
        row = w.ROWS[(route, scenario)]
        owner = w.owner_of(scenario)
        ctx = row.setup(world, owner)
        for caller, want in zip(CALLERS, expected, strict=True):
            response = row.call(api, user_of(caller), ctx)
            got = response.status_code
            allowed += got < 400
            denied += got >= 400
            if got != want:
                body = response.get_json(silent=True) or {}
                mismatches[f"{route} [{scenario}] as {caller}"] = (
                    want,
                    got,
                    body.get("detail") if isinstance(body, dict) else body,
                )
            if row.writes and got < 300:
                ctx = row.setup(world, owner)
    assert not mismatches, "(expected, got, detail):\n" + "\n".join(
        f"  {k}: {v}" for k, v in mismatches.items()
    )
    print(
        f"\n[authz] {len(EXPECTED)} route×scenario rows × {len(CALLERS)} callers = "
        f"{len(EXPECTED) * len(CALLERS)} cells over {len({r for r, _ in EXPECTED})} routes: "
        f"{allowed} allowed, {denied} denied, 0 mismatches"
    )


# --- roles before bodies -------------------------------------------------------------------
REFUSALS = (401, 403, 404)


def test_a_refused_caller_gets_the_same_refusal_whatever_the_request_carries(
    world: w.World, api: Api
) -> None:
    """Roles before bodies: a caller who may not do something is told 401/403/404, never the shape of a
    body they may not send. Given every refused cell of the table, when the request carries
    a malformed body, query values the operation refuses or an unknown query parameter,
    then the answer is the same refusal, never a 400, 415 or 422 describing the operation."""
    operations = w.openapi_operations(api)
    mismatches: dict[str, tuple[int, int, Any]] = {}
    sent = 0
    for (route, scenario), expected in EXPECTED.items():
        exempt = BODY_DECIDES.get((route, scenario), frozenset())
        refused = [
            (caller, want)
            for caller, want in zip(CALLERS, expected, strict=True)
            if want in REFUSALS and caller not in exempt
        ]
        if not refused or route not in operations:  # the OpenAPI document itself
            continue
        row = w.ROWS[(route, scenario)]
        ctx = row.setup(world, w.owner_of(scenario))
        for name, variant in w.malformed_variants(operations[route]).items():
            for caller, want in refused:
                response = row.call(w.Malformed(api, variant), user_of(caller), ctx)
                sent += 1
                if response.status_code != want:
                    body = response.get_json(silent=True) or {}
                    mismatches[f"{route} [{scenario}] as {caller} with {name}"] = (
                        want,
                        response.status_code,
                        body.get("detail") if isinstance(body, dict) else body,
                    )
    assert not mismatches, "(expected, got, detail):\n" + "\n".join(
        f"  {k}: {v}" for k, v in mismatches.items()
    )
    print(f"\n[authz] {sent} malformed requests from refused callers: 0 mismatches")


def test_a_caller_who_may_act_is_told_what_is_wrong_with_the_request(
    world: w.World, api: Api
) -> None:
    """The other side: for every route, a caller the table allows still gets the 400 naming
    an unknown query parameter (nothing runs, nothing is written)."""
    operations = w.openapi_operations(api)
    proven: set[str] = set()
    wrong: dict[str, tuple[int, Any]] = {}
    unknown = w.malformed_variants({})["an unknown query parameter"]
    for (route, scenario), expected in EXPECTED.items():
        allowed = [c for c, want in zip(CALLERS, expected, strict=True) if want < 300]
        if route in proven or not allowed or route not in operations:
            continue
        row = w.ROWS[(route, scenario)]
        ctx = row.setup(world, w.owner_of(scenario))
        response = row.call(w.Malformed(api, unknown), user_of(allowed[0]), ctx)
        if response.status_code == 400 and "no_such_parameter" in response.get_json()["errors"]:
            proven.add(route)
        else:
            wrong[f"{route} [{scenario}] as {allowed[0]}"] = (
                response.status_code,
                response.get_json(silent=True),
            )
    assert not wrong, wrong
    assert proven == set(operations), (
        f"routes no caller may call: {sorted(set(operations) - proven)}"
    )


# --- what a caller sees in lists ----------------------------------------------------------


def others_items(world: w.World) -> dict[str, Any]:
    """sales2's client, its case waiting for a risk decision, an alert on it and a
    notification of sales2's: what each list must show or hide."""
    client = world.client(OWNERS["other"])
    case = world.admission(OWNERS["other"], "risk_review")
    alert, _ = world.alert(OWNERS["other"], "warned")
    return {
        "GET /api/v1/clients": client,
        "GET /api/v1/workflows": case,
        "GET /api/v1/tasks": case,
        "GET /api/v1/alerts": alert,
        "GET /api/v1/notifications": world.notification("sales2"),
    }


def listed(route: str, body: dict[str, Any], item: int) -> bool:
    if route == "GET /api/v1/alerts":
        return any(i["alert"]["id"] == item for i in body["items"])
    return any(i["id"] == item for i in body["items"])


def test_lists_show_other_peoples_items_only_to_roles_that_see_them(
    world: w.World, api: Api
) -> None:
    items = others_items(world)
    wrong = {}
    for route, expected in VISIBLE.items():
        path = route.split(" ", 1)[1]
        for caller, want in zip(CALLERS, expected, strict=True):
            if want is None:
                continue
            # a page large enough for everything this module creates
            r = api.get(user_of(caller), f"{path}?limit=200")
            assert r.status_code == 200, (route, caller, r.get_json())
            got = listed(route, r.get_json(), items[route])
            if got != want:
                wrong[f"{route} as {caller}"] = (want, got)
    assert not wrong, f"(expected listed, got): {wrong}"


def test_marking_all_read_never_touches_another_users_notifications(
    world: w.World, api: Api, app: Flask
) -> None:
    theirs = world.notification("sales2")
    for caller in CALLERS[1:]:
        assert api.post(caller, "/api/v1/notifications/read-all").status_code == 200
    with app.app_context():
        assert db.session.get(Notification, theirs).read_at is None  # type: ignore[union-attr]


# --- masking ------------------------------------------------------------------------------


def _mask(shown: Any, stored: Any) -> str:
    return "full" if shown == stored else "masked"


def _client_reads(world: w.World, api: Api) -> dict[str, Any]:
    client = world.client(OWNERS["own"])
    _, change = world.change_request(OWNERS["own"])
    change_client = api.get("risk1", f"/api/v1/workflows/{change}").get_json()["subject_id"]
    onboarding = world.admission(OWNERS["own"], "risk_review")
    review = world.due_diligence(OWNERS["own"], "under_review")
    return {
        "client": client,
        "change": change,
        "change_client": change_client,
        "onboarding": onboarding,
        "review": review,
    }


def observe(api: Api, user: str | None, ids: dict[str, Any]) -> dict[str, str | None]:
    """How ``user`` reads each sensitive value of MASKED (None: the read is refused)."""
    seen: dict[str, str | None] = {}
    r = api.get(user, f"/api/v1/clients/{ids['client']}")
    client = r.get_json() if r.status_code == 200 else None
    seen["client.bank_account"] = client and _mask(client["bank_account"], w.BANK_ACCOUNT)
    seen["client.contacts.phone"] = client and _mask(client["contacts"][0]["phone"], w.PHONE)
    seen["client.registered_capital"] = client and _mask(client["registered_capital"], w.CAPITAL)
    r = api.get(user, "/api/v1/clients?limit=200")
    mine = [c for c in (r.get_json() or {}).get("items", []) if c["id"] == ids["client"]]
    seen["client list.bank_account"] = (
        mine[0] and _mask(mine[0]["bank_account"], w.BANK_ACCOUNT) if mine else None
    )
    r = api.get(
        user, f"/api/v1/clients/{ids['change_client']}/change-requests/{ids['change']}/values"
    )
    seen["change values.bank_account"] = (
        _mask(r.get_json()["changes"]["bank_account"]["after"], w.NEW_BANK_ACCOUNT)
        if r.status_code == 200
        else None
    )
    r = api.get(user, f"/api/v1/workflows/{ids['change']}")
    seen["change case.bank_account"] = (
        _mask(r.get_json()["data"]["changes"]["bank_account"]["after"], w.NEW_BANK_ACCOUNT)
        if r.status_code == 200
        else None
    )
    r = api.get(user, f"/api/v1/workflows/{ids['onboarding']}")
    seen["onboarding case.screening"] = (
        ("full" if "score" in r.get_json()["data"]["screening"] else "masked")
        if r.status_code == 200
        else None
    )
    r = api.get(user, f"/api/v1/workflows/{ids['review']}")
    seen["due diligence case.checklist"] = (
        ("full" if "checklist" in r.get_json()["data"] else "masked")
        if r.status_code == 200
        else None
    )
    r = api.get(user, f"/api/v1/workflows/{ids['onboarding']}/audit")
    if r.status_code == 200:
        screened = [i for i in r.get_json()["items"] if i["trigger"] == "screened"]
        seen["case audit.payload"] = "full" if screened[0]["payload"] else "masked"
    else:
        seen["case audit.payload"] = None
    return seen


def test_sensitive_values_are_masked_for_roles_that_must_not_see_them(
    world: w.World, api: Api
) -> None:
    ids = _client_reads(world, api)
    wrong = {}
    for caller in CALLERS:
        seen = observe(api, user_of(caller), ids)
        for what, expected in MASKED.items():
            want = expected[CALLERS.index(caller)]
            if seen[what] != want:
                wrong[f"{what} as {caller}"] = (want, seen[what])
    assert not wrong, f"(expected, got): {wrong}"


def test_an_import_dry_run_reveals_nothing_of_a_client_the_caller_does_not_own(
    world: w.World, api: Api
) -> None:
    # sales1 probes sales2's client with a guessed bank account: the dry run must not
    # say whether the guess matches (a sensitive value oracle), only that the row is refused
    theirs = world.client(OWNERS["other"])
    with world.session() as s:
        from workflow.risk.clients.model import Client

        code = s.get(Client, theirs).credit_code  # type: ignore[union-attr]
    for guess in (w.BANK_ACCOUNT, "6222000000000000"):
        content = f"name,credit_code,bank_account\n探测,{code},{guess}\n".encode()
        r = w.upload_csv(api, "sales1", content, "?dry_run=true")
        report = r.get_json()
        assert r.status_code == 200, report
        assert (
            report["sensitive_differences"] == [] and report["updated"] == report["unchanged"] == 0
        ), report
        assert [e["field"] for e in report["errors"]] == ["credit_code"], report
    r = w.upload_csv(api, "auditor1", io.BytesIO(b"name,credit_code\n").getvalue(), "?dry_run=true")
    assert r.status_code == 403, r.get_json()
