"""The data the matrix calls act on, built through the same services the API uses, and
one request per table row.

A row's *setup* builds what its request needs (a client of sales1 or sales2, a case in a
given state…) and its *call* sends the request as one caller. Setups are rebuilt only
after a call changed something (a 2xx on a writing route), so a row costs one setup plus
one per allowed write.
"""

from __future__ import annotations

import hashlib
import io
import itertools
import json
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from importlib.resources import files
from typing import Any

from flask import Flask
from sqlalchemy.orm import Session

from api.extensions import db
from tests.support.app import PASSWORD, Api, drain
from workflow.engine import firing as engine
from workflow.engine import migration
from workflow.records.identity import Actor
from workflow.records.models import Notification
from workflow.risk.alerts.intake import raise_alert
from workflow.risk.alerts.webhook import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.service import create_client
from workflow.risk.due_diligence import evidence
from workflow.risk.due_diligence.review import open_review
from workflow.risk.erasure import request_erasure
from workflow.risk.governance.changes import draft_change
from workflow.risk.onboarding import start_admission
from workflow.risk.screening.watchlist import import_watchlist
from workflow.risk.sensitive_edit import request_sensitive_edit

from .table import ACTION, OWNERS

WEBHOOK_SECRET = "authz-webhook-secret"
BANK_ACCOUNT = "6222020012345678"
NEW_BANK_ACCOUNT = "6228480099887766"
PHONE = "13812341234"
CAPITAL = 500_000_000
PDF = b"%PDF-1.7\n" + bytes(range(256)) * 4 + b"\n%%EOF\n"
OWNER_PDF = PDF + b"% uploaded by the client's owner\n"
CHECKLIST = {
    k: {"finding": f"{k} checked", "risk": "low"}
    for k in ("basic_info", "financials", "reputation", "legal_records", "compliance")
}
RISK2 = Actor("risk2", frozenset({"risk_officer"}))
LEGAL1 = Actor("legal1", frozenset({"legal"}))
ADMIN = Actor("admin", frozenset({"admin"}))
_serial = itertools.count(1)


def sales(owner: str) -> Actor:
    return Actor(owner, frozenset({"sales"}))


class World:
    """Builds fixtures in the app's database (each builder commits)."""

    def __init__(self, app: Flask, api: Api) -> None:
        self.app = app
        self.api = api

    @contextmanager
    def session(self) -> Iterator[Session]:
        with self.app.app_context():
            yield db.session
            db.session.commit()

    # --- clients -------------------------------------------------------------------
    @staticmethod
    def credit_code() -> str:
        return make_credit_code(f"9144030{next(_serial) + 7_000_000:010d}")

    def client(self, owner: str, name: str | None = None) -> int:
        """A prospect of ``owner`` rated S by screening (central SOE, 90 % state owned)."""
        with self.session() as s:
            client = create_client(
                s,
                {
                    "name": name or f"华东精密制造有限公司 {next(_serial)}",
                    "credit_code": self.credit_code(),
                    "legal_representative": "张伟",
                    "industry": "制造业",
                    "region": "上海",
                    "registered_capital": CAPITAL,
                    "ownership_type": "central_soe",
                    "state_ownership_pct": 90,
                    "bank_account": BANK_ACCOUNT,
                    "contacts": [{"name": "王芳", "phone": PHONE, "email": "wang@example.com"}],
                },
                sales(owner),
            )
            return client.id

    # --- cases ---------------------------------------------------------------------
    def admission(self, owner: str, state: str) -> int:
        """An onboarding case of ``owner``'s client in ``draft``, ``risk_review`` or
        ``name_review`` (its name is like a blacklisted one, in traditional script)."""
        name = None
        if state == "name_review":
            name = f"瓊州星河遠洋物流有限公司 {next(_serial)}"
            with self.session() as s:
                listed = {"credit_code": "", "list": "blacklist", "reason": "matrix"}
                import_watchlist(
                    s, [{**listed, "name": name}], Actor.system("matrix"), source="matrix"
                )
        client_id = self.client(owner, name)
        with self.session() as s:
            case = start_admission(s, client_id, sales(owner), submit=state != "draft").id
        if state in ("risk_review", "name_review"):
            drain(self.app)  # screening, as the worker would
        self.expect_state(case, state)
        return case

    def change_request(self, owner: str) -> tuple[int, int]:
        """(client, case): ``owner`` asks for a new bank account on their client."""
        client_id = self.client(owner)
        with self.session() as s:
            case = request_sensitive_edit(
                s,
                client_id,
                {"bank_account": NEW_BANK_ACCOUNT},
                "the client moved its settlement account",
                sales(owner),
            )
            return client_id, case.id

    def erasure(self, owner: str) -> tuple[int, int]:
        """(client, case): legal1 asks for the erasure of ``owner``'s client."""
        client_id = self.client(owner)
        with self.session() as s:
            case = request_erasure(s, client_id, "the data subject asked (PIPL art. 47)", LEGAL1)
            return client_id, case.id

    def due_diligence(self, owner: str, state: str) -> int:
        """A review of ``owner``'s client opened by risk2, who collects and submits it."""
        client_id = self.client(owner)
        with self.session() as s:
            case = open_review(s, client_id, RISK2).id
        if state in ("collecting", "under_review"):
            self.fire(case, "start", RISK2)
            with self.session() as s:
                evidence.attach(
                    s,
                    case,
                    RISK2,
                    io.BytesIO(PDF),
                    filename="report.pdf",
                    content_type="application/pdf",
                )
        if state == "under_review":
            self.fire(case, "submit_for_review", RISK2, {"checklist": CHECKLIST})
        self.expect_state(case, state)
        return case

    def alert(self, owner: str, state: str) -> tuple[int, int]:
        """(alert, case): a red payment alert raised by risk2 on ``owner``'s client, taken
        to ``state`` by the owner."""
        client_id = self.client(owner)
        with self.session() as s:
            raised = raise_alert(
                s,
                RISK2,
                {
                    "client_id": client_id,
                    "level": "red",
                    "category": "payment_overdue",
                    "title": "付款逾期 30 天",
                    "details": "",
                    "source": "manual",
                    "external_id": f"authz-{next(_serial)}",
                },
            )
            alert_id, case = raised.alert.id, raised.instance.id
        if state in ("responded", "rectified"):
            self.fire(case, "respond", sales(owner), {"assessment": "overdue", "plan": "call"})
        if state == "rectified":
            self.fire(case, "rectify", sales(owner), {"evidence": "paid on 2026-11-20"})
        self.expect_state(case, state)
        return alert_id, case

    def fire(
        self, case: int, trigger: str, actor: Actor, payload: dict[str, Any] | None = None
    ) -> None:
        with self.session() as s:
            engine.fire(s, case, trigger, actor, payload or {}, comment="set-up")

    def expect_state(self, case: int, state: str) -> None:
        with self.session() as s:
            from workflow.records.models import WorkflowInstance

            instance = s.get(WorkflowInstance, case)
            assert instance is not None and instance.state == state, (
                case,
                instance and instance.state,
            )

    def notification(self, username: str) -> int:
        with self.session() as s:
            note = Notification(username=username, event="authz", title=f"for {username}", body="")
            s.add(note)
            s.flush()
            return note.id


# --- rows --------------------------------------------------------------------------------
Setup = Callable[[World, str], Any]
Call = Callable[[Api, "str | None", Any], Any]


@dataclass(frozen=True)
class Row:
    setup: Setup
    call: Call
    writes: bool  # a 2xx changed the fixture: build a new one for the next caller


ROWS: dict[tuple[str, str], Row] = {}


def row(route: str, *scenarios: str, writes: bool = False) -> Callable[[Any], Any]:
    """Register ``(setup, call)`` returned by the decorated factory for each scenario."""

    def register(factory: Callable[[], tuple[Setup, Call]]) -> Callable[[], tuple[Setup, Call]]:
        setup, call = factory()
        for scenario in scenarios or ("-",):
            ROWS[(route, scenario)] = Row(setup, call, writes)
        return factory

    return register


def nothing(world: World, owner: str) -> None:
    return None


def get(path: str) -> Call:
    return lambda api, user, _ctx: api.get(user, path)


@row("POST /api/v1/auth/token")
def _token() -> tuple[Setup, Call]:
    def call(api: Api, user: str | None, _ctx: Any) -> Any:
        return api.call(
            "POST",
            None,
            "/api/v1/auth/token",
            json={"username": user or "nobody", "password": PASSWORD if user else "wrong-password"},
        )

    return nothing, call


@row("DELETE /api/v1/auth/token")
def _revoke_token() -> tuple[Setup, Call]:
    def call(api: Api, user: str | None, _ctx: Any) -> Any:
        headers = {}
        if user:  # a token of its own: the matrix's cached tokens must stay valid
            fresh = api.client.post(
                "/api/v1/auth/token", json={"username": user, "password": PASSWORD}
            )
            headers["Authorization"] = f"Bearer {fresh.get_json()['access_token']}"
        return api.call("DELETE", None, "/api/v1/auth/token", headers=headers)

    return nothing, call


@row("GET /api/v1/openapi.json")
def _openapi() -> tuple[Setup, Call]:
    return nothing, get("/api/v1/openapi.json")


for _path in (
    "/api/v1/clients",
    "/api/v1/alerts",
    "/api/v1/notifications",
    "/api/v1/audit",
    "/api/v1/audit/verify",
    "/api/v1/audit/reads",
    "/api/v1/reports/closed-loops",
    "/api/v1/reports/sla",
    "/api/v1/definitions",
    "/api/v1/tasks",
    "/api/v1/workflows",
):
    ROWS[(f"GET {_path}", "-")] = Row(nothing, get(_path), writes=False)
ROWS[("GET /api/v1/config", "-")] = Row(nothing, get("/api/v1/config"), writes=False)
ROWS[("GET /api/v1/config/<string:kind>", "-")] = Row(
    nothing, get("/api/v1/config/rule_set"), writes=False
)


def a_config_change(world: World, owner: str) -> int:
    """A rule-set draft by risk2, in backtesting (nothing drained)."""
    content = (files("definitions") / "rules" / "default.yaml").read_text(encoding="utf-8")
    with world.session() as s:
        return draft_change(
            s, "rule_set", content.replace("cap: 50000000", "cap: 30000000"), "cap", RISK2
        ).id


ROWS[("GET /api/v1/config/changes/<int:change_id>/progress", "-")] = Row(
    a_config_change,
    lambda api, user, ctx: api.get(user, f"/api/v1/config/changes/{ctx}/progress"),
    writes=False,
)


@row("POST /api/v1/config/<string:kind>/drafts", writes=True)
def _config_draft() -> tuple[Setup, Call]:
    content = (files("definitions") / "rules" / "default.yaml").read_text(encoding="utf-8")
    return nothing, lambda api, user, _ctx: api.post(
        user,
        "/api/v1/config/rule_set/drafts",
        json={"content": content.replace("cap: 50000000", "cap: 40000000"), "reason": "cap"},
    )


ROWS[("GET /api/v1/definitions/<string:name>", "-")] = Row(
    nothing, get("/api/v1/definitions/client_onboarding"), writes=False
)
MIGRATIONS = "/api/v1/definitions/due_diligence/migrations"
ROWS[("POST /api/v1/definitions/<string:name>/migrations", "-")] = Row(
    nothing,
    lambda api, user, _ctx: api.post(user, MIGRATIONS, json={"to_version": 3}),
    writes=False,
)


def a_migration(world: World, owner: str) -> int:
    """A (vacuous) migration of due_diligence to its current version, by an admin."""
    with world.session() as s:
        return migration.apply(s, "due_diligence", 3, ADMIN).migration_id or 0


ROWS[("GET /api/v1/definitions/<string:name>/migrations/<int:migration_id>", "-")] = Row(
    a_migration, lambda api, user, ctx: api.get(user, f"{MIGRATIONS}/{ctx}"), writes=False
)
ROWS[("POST /api/v1/definitions/<string:name>/migrations/<int:migration_id>/revert", "-")] = Row(
    a_migration, lambda api, user, ctx: api.post(user, f"{MIGRATIONS}/{ctx}/revert"), writes=True
)


@row("POST /api/v1/clients", "own", "other", writes=True)
def _create_client() -> tuple[Setup, Call]:
    def call(api: Api, user: str | None, owner: str) -> Any:
        return api.post(
            user,
            "/api/v1/clients",
            json={
                "name": f"新客户 {next(_serial)}",
                "credit_code": World.credit_code(),
                "owner": owner,
            },
        )

    return (lambda world, owner: owner), call


@row("GET /api/v1/clients/<int:client_id>", "own", "other")
def _read_client() -> tuple[Setup, Call]:
    return World.client, lambda api, user, client: api.get(user, f"/api/v1/clients/{client}")


@row("GET /api/v1/clients/<int:client_id>/report", "own", "other")
def _client_report() -> tuple[Setup, Call]:
    return World.client, lambda api, user, client: api.get(user, f"/api/v1/clients/{client}/report")


@row("GET /api/v1/clients/<int:client_id>/personal-data", "own", "other")
def _personal_data() -> tuple[Setup, Call]:
    return World.client, lambda api, user, client: api.get(
        user, f"/api/v1/clients/{client}/personal-data"
    )


@row("PATCH /api/v1/clients/<int:client_id>", "own", "other", writes=True)
def _edit_client() -> tuple[Setup, Call]:
    def call(api: Api, user: str | None, client: int) -> Any:
        return api.patch(
            user, f"/api/v1/clients/{client}", json={"industry": f"批发业 {next(_serial)}"}
        )

    return World.client, call


def import_file(world: World, owner: str) -> bytes:
    """A one-row CSV changing the industry of an existing client of ``owner``."""
    client = world.client(owner)
    with world.session() as s:
        from workflow.risk.clients.model import Client

        code = s.get(Client, client).credit_code  # type: ignore[union-attr]
    return f"name,credit_code,industry\n导入客户 {client},{code},零售业\n".encode()


def upload_csv(api: Api, user: str | None, content: bytes, query: str = "") -> Any:
    return api.post(
        user,
        f"/api/v1/clients/import{query}",
        data={"file": (io.BytesIO(content), "clients.csv")},
        content_type="multipart/form-data",
    )


@row("POST /api/v1/clients/import", "own", "other", writes=True)
def _import() -> tuple[Setup, Call]:
    return import_file, upload_csv


@row("POST /api/v1/clients/<int:client_id>/admission", "own", "other", writes=True)
def _admission() -> tuple[Setup, Call]:
    return World.client, lambda api, user, client: api.post(
        user, f"/api/v1/clients/{client}/admission", json={}
    )


@row("POST /api/v1/clients/<int:client_id>/admission", "draft own", "draft other", writes=True)
def _draft_admission() -> tuple[Setup, Call]:
    return World.client, lambda api, user, client: api.post(
        user, f"/api/v1/clients/{client}/admission", json={"submit": False}
    )


@row("POST /api/v1/clients/<int:client_id>/change-requests", "own", "other", writes=True)
def _change_request() -> tuple[Setup, Call]:
    return World.client, lambda api, user, client: api.post(
        user,
        f"/api/v1/clients/{client}/change-requests",
        json={"changes": {"credit_limit": 1_000_000}, "reason": "new contract signed"},
    )


@row("GET /api/v1/clients/<int:client_id>/change-requests/<int:instance_id>/values", "own", "other")
def _change_values() -> tuple[Setup, Call]:
    return World.change_request, lambda api, user, ids: api.get(
        user, f"/api/v1/clients/{ids[0]}/change-requests/{ids[1]}/values"
    )


@row("POST /api/v1/clients/<int:client_id>/erasure", "own", "other", writes=True)
def _erasure() -> tuple[Setup, Call]:
    return World.client, lambda api, user, client: api.post(
        user, f"/api/v1/clients/{client}/erasure", json={"reason": "the data subject asked"}
    )


@row("POST /api/v1/clients/<int:client_id>/due-diligence", "own", "other", writes=True)
def _open_review() -> tuple[Setup, Call]:
    return World.client, lambda api, user, client: api.post(
        user, f"/api/v1/clients/{client}/due-diligence", json={}
    )


def collecting(world: World, owner: str) -> int:
    return world.due_diligence(owner, "collecting")


@row("GET /api/v1/workflows/<int:instance_id>/evidence", "own", "other")
def _evidence_list() -> tuple[Setup, Call]:
    return collecting, lambda api, user, case: api.get(user, f"/api/v1/workflows/{case}/evidence")


@row("POST /api/v1/workflows/<int:instance_id>/evidence", "own", "other")
def _evidence_upload() -> tuple[Setup, Call]:
    def call(api: Api, user: str | None, case: int) -> Any:
        content = PDF + str(next(_serial)).encode()
        return api.post(
            user,
            f"/api/v1/workflows/{case}/evidence",
            content_type="multipart/form-data",
            data={"file": (io.BytesIO(content), "more.pdf", "application/pdf")},
        )

    return collecting, call


@row("GET /api/v1/workflows/<int:instance_id>/evidence/<string:sha256>", "own", "other")
def _evidence_download() -> tuple[Setup, Call]:
    sha = hashlib.sha256(PDF).hexdigest()
    return collecting, lambda api, user, case: api.get(
        user, f"/api/v1/workflows/{case}/evidence/{sha}"
    )


def alert_with_files(world: World, owner: str) -> int:
    """A responded alert with a file uploaded by its owner and one by risk2."""
    _, case = world.alert(owner, "responded")
    with world.session() as s:
        for actor, content in ((sales(owner), OWNER_PDF), (RISK2, PDF)):
            evidence.attach(
                s,
                case,
                actor,
                io.BytesIO(content),
                filename="proof.pdf",
                content_type="application/pdf",
            )
    return case


ROWS[("POST /api/v1/workflows/<int:instance_id>/evidence", "alert own")] = Row(
    alert_with_files,
    ROWS[("POST /api/v1/workflows/<int:instance_id>/evidence", "own")].call,
    writes=False,
)
ROWS[("POST /api/v1/workflows/<int:instance_id>/evidence", "alert other")] = Row(
    alert_with_files,
    ROWS[("POST /api/v1/workflows/<int:instance_id>/evidence", "own")].call,
    writes=False,
)
for _whose in ("own", "other"):
    for _who, _content in (("owner's", OWNER_PDF), ("risk's", PDF)):
        ROWS[
            (
                "GET /api/v1/workflows/<int:instance_id>/evidence/<string:sha256>",
                f"alert {_who} file {_whose}",
            )
        ] = Row(
            alert_with_files,
            (
                lambda sha: (
                    lambda api, user, case: api.get(
                        user, f"/api/v1/workflows/{case}/evidence/{sha}"
                    )
                )
            )(hashlib.sha256(_content).hexdigest()),
            writes=False,
        )


@row("POST /api/v1/alerts", "own", "other")
def _raise_alert() -> tuple[Setup, Call]:
    def call(api: Api, user: str | None, client: int) -> Any:
        return api.post(
            user,
            "/api/v1/alerts",
            json={
                "client_id": client,
                "level": "yellow",
                "category": "negative_news",
                "title": "负面新闻",
            },
        )

    return World.client, call


def signed_post(path: str, body_of: Callable[[int], dict[str, Any]]) -> Callable[[bool], Call]:
    """Calls of a signed intake at ``path`` with ``body_of(client)``, signed or not."""

    def calls(signed: bool) -> Call:
        def call(api: Api, user: str | None, client: int) -> Any:
            body = json.dumps(body_of(client)).encode()
            headers = {"Content-Type": "application/json"}
            if signed:
                stamp = str(int(time.time()))
                headers |= {
                    TIMESTAMP_HEADER: stamp,
                    SIGNATURE_HEADER: sign(WEBHOOK_SECRET, stamp, body),
                }
            return api.call("POST", user, path, data=body, headers=headers)

        return call

    return calls


webhook = signed_post(
    "/api/v1/alerts/webhook",
    lambda client: {
        "client_id": client,
        "level": "yellow",
        "category": "other",
        "title": "监测系统预警",
        "source": "monitor",
        "external_id": f"ext-{next(_serial)}",
    },
)
event_webhook = signed_post(
    "/api/v1/events/webhook",
    lambda client: {
        "events": [
            {
                "client_id": client,
                "type": "business_change",
                "title": "法定代表人变更",
                "source": "monitor",
                "external_id": f"evt-{next(_serial)}",
            }
        ]
    },
)

ROWS[("POST /api/v1/alerts/webhook", "unsigned")] = Row(World.client, webhook(False), writes=False)
ROWS[("POST /api/v1/alerts/webhook", "signed")] = Row(World.client, webhook(True), writes=False)
ROWS[("POST /api/v1/events/webhook", "unsigned")] = Row(
    World.client, event_webhook(False), writes=False
)
ROWS[("POST /api/v1/events/webhook", "signed")] = Row(
    World.client, event_webhook(True), writes=False
)


@row("GET /api/v1/clients/<int:client_id>/events", "own", "other")
def _events() -> tuple[Setup, Call]:
    return World.client, lambda api, user, client: api.get(user, f"/api/v1/clients/{client}/events")


@row("POST /api/v1/clients/<int:client_id>/events", "own", "other", writes=True)
def _record_event() -> tuple[Setup, Call]:
    return World.client, lambda api, user, client: api.post(
        user,
        f"/api/v1/clients/{client}/events",
        json={"type": "business_change", "title": "注册资本变更"},
    )


@row("GET /api/v1/clients/<int:client_id>/ratings", "own", "other")
def _ratings() -> tuple[Setup, Call]:
    return World.client, lambda api, user, client: api.get(
        user, f"/api/v1/clients/{client}/ratings"
    )


@row("POST /api/v1/notifications/<int:notification_id>/read", "own", "other")
def _read_notification() -> tuple[Setup, Call]:
    # "own" is the caller's: the setup makes one for every caller (anonymous: sales1's)
    def setup(world: World, owner: str) -> dict[str, int]:
        users = ("sales1", "risk1", "legal1", "manager1", "auditor1", "admin")
        if owner == "sales2":
            return dict.fromkeys(users, world.notification("sales2"))
        return {u: world.notification(u) for u in users}

    def call(api: Api, user: str | None, notes: dict[str, int]) -> Any:
        return api.post(user, f"/api/v1/notifications/{notes[user or 'sales1']}/read")

    return setup, call


ROWS[("POST /api/v1/notifications/read-all", "-")] = Row(
    nothing, lambda api, user, _ctx: api.post(user, "/api/v1/notifications/read-all"), writes=False
)


@row("GET /api/v1/audit/export", "own", "other")
def _export() -> tuple[Setup, Call]:
    return (lambda world, owner: world.change_request(owner)[1]), lambda api, user, case: api.get(
        user, f"/api/v1/audit/export?instance_id={case}"
    )


@row("GET /api/v1/workflows/<int:instance_id>", "own", "other")
def _read_case() -> tuple[Setup, Call]:
    return (lambda world, owner: world.admission(owner, "draft")), lambda api, user, case: api.get(
        user, f"/api/v1/workflows/{case}"
    )


@row("GET /api/v1/workflows/<int:instance_id>/audit", "own", "other")
def _read_case_audit() -> tuple[Setup, Call]:
    return (lambda world, owner: world.admission(owner, "draft")), lambda api, user, case: api.get(
        user, f"/api/v1/workflows/{case}/audit"
    )


# --- actions -----------------------------------------------------------------------------
PAYLOADS: dict[str, dict[str, Any]] = {
    "respond": {"assessment": "the client is late", "plan": "call the CFO"},
    "rectify": {"evidence": "paid on 2026-11-20"},
    "dismiss": {"reason": "a duplicate of another alert"},
}


def action_setup(definition: str, state: str) -> Setup:
    def setup(world: World, owner: str) -> int:
        if definition == "client_onboarding":
            return world.admission(owner, state)
        if definition == "sensitive_edit":
            return world.change_request(owner)[1]
        if definition == "erasure":
            return world.erasure(owner)[1]
        if definition == "due_diligence":
            return world.due_diligence(owner, state)
        return world.alert(owner, state)[1]

    return setup


def action_call(trigger: str) -> Call:
    def call(api: Api, user: str | None, case: int) -> Any:
        body = {"comment": "authorisation matrix", **PAYLOADS.get(trigger, {})}
        return api.post(user, f"/api/v1/workflows/{case}/actions/{trigger}", json=body)

    return call


def _action_rows() -> None:
    from .table import ACTIONS

    for scenario in ACTIONS:
        name, _whose = scenario.split(" ")
        definition, rest = name.split(".")
        trigger, state = rest.split("@")
        ROWS[(ACTION, scenario)] = Row(
            action_setup(definition, state), action_call(trigger), writes=True
        )


_action_rows()


def owner_of(scenario: str) -> str:
    return (
        OWNERS[scenario.rsplit(" ", 1)[-1]] if " " in scenario else OWNERS.get(scenario, "sales1")
    )


# --- malformed requests (roles before bodies) -----------------------------------------------
# A variant rewrites one request (path with its query string, and the keyword arguments of
# Api.call) into a malformed one; which variants apply to a route is read from the app's
# OpenAPI document, so a route that takes a body or a query cannot be left out.
Variant = Callable[[str, dict[str, Any]], tuple[str, dict[str, Any]]]


def openapi_operations(api: Api) -> dict[str, dict[str, Any]]:
    """The documented operations keyed as the table spells routes ("POST /api/v1/x/<int:id>")."""
    import re

    doc = api.get(None, "/api/v1/openapi.json").get_json()
    flask_paths = {}
    for rule in api.client.application.url_map.iter_rules():
        flask_paths[re.sub(r"<(?:[a-z]+:)?([a-z_0-9]+)>", r"{\1}", rule.rule)] = rule.rule
    return {
        f"{method.upper()} {flask_paths[path]}": op
        for path, ops in doc["paths"].items()
        for method, op in ops.items()
        if method != "parameters"
    }


def _with_query(path: str, values: dict[str, str]) -> str:
    from urllib.parse import parse_qsl, urlencode

    base, _, query = path.partition("?")
    merged = dict(parse_qsl(query)) | values
    return f"{base}?{urlencode(merged)}"


def _body(data: Any, content_type: str) -> Variant:
    def rewrite(path: str, kwargs: dict[str, Any]) -> tuple[str, dict[str, Any]]:
        kept = {
            k: v for k, v in kwargs.items() if k not in ("json", "data", "content_type", "headers")
        }
        headers = {
            k: v for k, v in (kwargs.get("headers") or {}).items() if k.lower() != "content-type"
        }
        return path, {
            **kept,
            "headers": headers,
            "data": data() if callable(data) else data,
            "content_type": content_type,
        }

    return rewrite


def _query(values: dict[str, str]) -> Variant:
    return lambda path, kwargs: (_with_query(path, values), kwargs)


def _invalid_value(schema: dict[str, Any]) -> str | None:
    """A value the parameter's schema refuses, or None when there is none to give."""
    if schema.get("type") == "integer":
        return "not-a-number"
    if schema.get("type") == "boolean":
        return "perhaps"
    if "enum" in schema:
        return "none-of-these"
    if schema.get("format") == "date-time":
        return "yesterday"
    if "pattern" in schema:
        return "?!"
    if "maxLength" in schema:
        return "x" * (int(schema["maxLength"]) + 1)
    return None


def malformed_variants(operation: dict[str, Any]) -> dict[str, Variant]:
    """Every malformed form of a request to ``operation``: an unknown query parameter
    (any operation), values its query parameters refuse, and bodies it cannot take."""
    variants: dict[str, Variant] = {
        "an unknown query parameter": _query({"no_such_parameter": "1"})
    }
    invalid = {
        p["name"]: _invalid_value(p.get("schema") or {})
        for p in operation.get("parameters", [])
        if p["in"] == "query"
    }
    if any(v is not None for v in invalid.values()):
        variants["query values it refuses"] = _query(
            {k: v for k, v in invalid.items() if v is not None}
        )
    content = (operation.get("requestBody") or {}).get("content") or {}
    if "application/json" in content:
        variants["a JSON array for a body"] = _body(b'["not", "an", "object"]', "application/json")
        variants["unparseable JSON"] = _body(b'{"unfinished": ', "application/json")
        variants["a text body"] = _body(b"plain text", "text/plain")
        variants["fields of the wrong type"] = _body(
            json.dumps(
                {
                    "comment": 7,
                    "expected_version": "first",
                    "submit": "maybe",
                    "changes": [],
                    "reason": 5,
                    "name": [],
                    "client_id": "one",
                    "level": 3,
                    "industry": {},
                }
            ).encode(),
            "application/json",
        )
    if "multipart/form-data" in content:
        variants["a form without the file"] = _body(
            lambda: {"not_the_file": "x"}, "multipart/form-data"
        )
    return variants


class Malformed:
    """An :class:`Api` whose every request is rewritten by ``variant``."""

    def __init__(self, api: Api, variant: Variant) -> None:
        self.api = api
        self.client = api.client
        self.variant = variant

    def call(self, method: str, username: str | None, path: str, **kwargs: Any) -> Any:
        path, kwargs = self.variant(path, kwargs)
        return self.api.call(method, username, path, **kwargs)

    def get(self, username: str | None, path: str, **kw: Any) -> Any:
        return self.call("GET", username, path, **kw)

    def post(self, username: str | None, path: str, **kw: Any) -> Any:
        return self.call("POST", username, path, **kw)

    def patch(self, username: str | None, path: str, **kw: Any) -> Any:
        return self.call("PATCH", username, path, **kw)
