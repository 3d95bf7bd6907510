"""Proof 7 — authorisation matrix: every role × every endpoint × own/other's data,
generated from the table below and compared cell by cell with what the API answers.

Rows are (endpoint, whose case); columns are the callers. "own" is a case that
sales1 started, "other" one that sales2 started: sales1 is the owner in both
columns' sense ("own" = its own case, "other" = someone else's). Grow the table as
feature endpoints land.
"""

from __future__ import annotations

from collections.abc import Callable

from workflow import engine, runtime
from workflow.identity import Actor

CALLERS = ["anonymous", "sales1", "risk1", "legal1", "manager1", "auditor1", "admin"]

# endpoint, whose case → expected status per caller (same order as CALLERS)
MATRIX: dict[tuple[str, str], list[int]] = {
    ("GET /api/v1/tasks", "-"):                      [401, 200, 200, 200, 200, 200, 200],
    ("GET /api/v1/workflows", "-"):                  [401, 200, 200, 200, 200, 200, 200],
    ("GET /api/v1/definitions", "-"):                [401, 200, 200, 200, 200, 200, 200],
    ("GET /api/v1/definitions/test_approval", "-"):  [401, 200, 200, 200, 200, 200, 200],
    ("GET /api/v1/workflows/{id}", "own"):           [401, 200, 200, 200, 200, 200, 404],
    ("GET /api/v1/workflows/{id}", "other"):         [401, 404, 200, 200, 200, 200, 404],
    ("GET /api/v1/workflows/{id}/audit", "own"):     [401, 200, 200, 200, 200, 200, 404],
    ("GET /api/v1/workflows/{id}/audit", "other"):   [401, 404, 200, 200, 200, 200, 404],
    # submit needs the sales role and a visible case
    ("POST submit {id}", "own"):                     [401, 200, 403, 403, 403, 403, 404],
    ("POST submit {id}", "other"):                   [401, 404, 403, 403, 403, 403, 404],
    # approve needs risk_officer or manager, and not the initiator (segregation of duties)
    ("POST approve {id}", "own"):                    [401, 403, 200, 403, 200, 403, 404],
    ("POST approve {id}", "other"):                  [401, 404, 200, 403, 200, 403, 404],
}

OWNERS = {"own": "sales1", "other": "sales2"}
ENGINE_OPERATIONS = {
    "GET /api/v1/tasks", "GET /api/v1/workflows", "GET /api/v1/definitions", "GET /api/v1/definitions/{name}",
    "GET /api/v1/workflows/{instance_id}", "GET /api/v1/workflows/{instance_id}/audit",
    "POST /api/v1/workflows/{instance_id}/actions/{trigger}",
}


def _new_case(app, owner: str, state: str) -> int:  # noqa: ANN001
    with app.app_context():
        factory = runtime.current().session_factory
        with factory() as session:
            actor = Actor(owner, frozenset({"sales"}))
            instance = engine.start(session, "test_approval", actor)
            session.commit()
            if state == "pending":
                engine.fire(session, instance.id, "submit", actor)
                session.commit()
            return instance.id


def _request(app, api, endpoint: str, whose: str) -> Callable[[str | None], int]:  # noqa: ANN001
    method, path = endpoint.split(" ", 1)

    def call(user: str | None) -> int:
        if method == "POST":
            trigger, _ = path.split(" ")
            case = _new_case(app, OWNERS[whose], "draft" if trigger == "submit" else "pending")
            body = {"amount": 10} if trigger == "approve" else {}
            return api.post(user, f"/api/v1/workflows/{case}/actions/{trigger}", json=body).status_code
        target = path
        if "{id}" in path:
            target = path.replace("{id}", str(_new_case(app, OWNERS[whose], "draft")))
        return api.get(user, target).status_code

    return call


def test_every_role_on_every_endpoint_matches_the_table(app, api):
    actual: dict[tuple[str, str], list[int]] = {}
    for (endpoint, whose), _expected in MATRIX.items():
        call = _request(app, api, endpoint, whose)
        actual[(endpoint, whose)] = [call(None if c == "anonymous" else c) for c in CALLERS]
    mismatches = {
        f"{endpoint} [{whose}] as {caller}": (want, got)
        for (endpoint, whose), row in MATRIX.items()
        for caller, want, got in zip(CALLERS, row, actual[(endpoint, whose)], strict=True)
        if want != got
    }
    assert not mismatches, f"(expected, got): {mismatches}"
    cells = len(MATRIX) * len(CALLERS)
    print(f"\n[authz] {len(MATRIX)} endpoint×ownership rows × {len(CALLERS)} callers = {cells} cells, "
          f"{sum(s < 400 for row in actual.values() for s in row)} allowed, "
          f"{sum(s >= 400 for row in actual.values() for s in row)} denied, 0 mismatches")


def test_the_table_covers_every_documented_operation(api):
    spec = api.get(None, "/api/v1/openapi.json").get_json()
    documented = {f"{m.upper()} {p}" for p, ops in spec["paths"].items() for m in ops if m != "parameters"}
    covered = {e.split(" ")[0] + " " + e.split(" ", 1)[1] for e, _ in MATRIX}
    normalised = set()
    for item in covered:
        method, rest = item.split(" ", 1)
        if method == "POST" and rest.endswith("{id}"):
            normalised.add("POST /api/v1/workflows/{instance_id}/actions/{trigger}")
        else:
            normalised.add(f"{method} {rest.replace('{id}', '{instance_id}').replace('test_approval', '{name}')}")
    public = {"POST /api/v1/auth/token"}
    engine_ops = documented & ENGINE_OPERATIONS
    missing = engine_ops - normalised - public
    assert not missing and len(engine_ops) == len(ENGINE_OPERATIONS), f"add rows to MATRIX for: {sorted(missing)}"
    feature_ops = sorted(documented - engine_ops - public)
    if feature_ops:  # feature endpoints are covered by their own tests until rows land here
        print(f"\n[authz] feature operations not yet in MATRIX: {len(feature_ops)}")
