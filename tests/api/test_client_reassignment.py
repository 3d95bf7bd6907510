"""Who sees a client's cases follows the client's owner.

A manager hands a client to another sales user with ``PATCH /api/v1/clients/{id}``
(``owner``): from then on the new owner sees the client's cases — the admission, its
change requests, its alerts — in the case views, the case list, the inbox and the alert
list, and may act on them; the previous owner sees none of them. And a client a sales user
may not see answers as a missing one does (404), as a case does: a 403 would tell which
ids exist.
"""

from __future__ import annotations

from typing import Any

from tests.support.app import Api
from workflow.risk.clients.creditcode import make_credit_code


def new_client(api: Api, n: int, owner: str = "sales1") -> int:
    r = api.post(
        owner,
        "/api/v1/clients",
        json={
            "name": f"移交示例有限公司 {n}",
            "credit_code": make_credit_code(f"9132050{n:010d}"),
            "registered_capital": 30_000_000,
            "ownership_type": "private",
        },
    )
    assert r.status_code == 201, r.get_json()
    return int(r.get_json()["id"])


def hand_over(api: Api, client_id: int, to: str) -> None:
    r = api.patch("manager1", f"/api/v1/clients/{client_id}", json={"owner": to})
    assert r.status_code == 200 and r.get_json()["owner"] == to, r.get_json()


def ids(api: Api, user: str, path: str) -> set[int]:
    r = api.get(user, path)
    assert r.status_code == 200, r.get_json()
    return {item["id"] for item in r.get_json()["items"]}


def sees(api: Api, user: str, case: int) -> dict[str, Any]:
    """Where ``user`` meets ``case``: its page, its audit, the case list, the inbox."""
    return {
        "case": api.get(user, f"/api/v1/workflows/{case}").status_code,
        "audit": api.get(user, f"/api/v1/workflows/{case}/audit").status_code,
        "list": case in ids(api, user, "/api/v1/workflows?limit=200"),
        "inbox": case in ids(api, user, "/api/v1/tasks?limit=200"),
    }


def test_the_admission_of_a_handed_over_client_is_the_new_owners_not_the_previous_ones(
    api: Api,
) -> None:
    client_id = new_client(api, 1)
    r = api.post("sales1", f"/api/v1/clients/{client_id}/admission", json={"submit": False})
    assert r.status_code == 201, r.get_json()
    case = r.get_json()["id"]
    assert sees(api, "sales1", case) == {"case": 200, "audit": 200, "list": True, "inbox": True}
    assert sees(api, "sales2", case) == {"case": 404, "audit": 404, "list": False, "inbox": False}

    hand_over(api, client_id, "sales2")

    assert sees(api, "sales1", case) == {"case": 404, "audit": 404, "list": False, "inbox": False}
    assert api.get("sales1", f"/api/v1/clients/{client_id}").status_code == 404
    assert api.act("sales1", case, "submit").status_code == 404
    assert sees(api, "sales2", case) == {"case": 200, "audit": 200, "list": True, "inbox": True}
    assert api.get("sales2", f"/api/v1/workflows/{case}").get_json()["available_actions"] == [
        "submit",
        "withdraw",
    ]
    assert api.get("sales2", f"/api/v1/clients/{client_id}").status_code == 200
    r = api.act("sales2", case, "submit", comment="taken over from sales1")
    assert r.status_code == 200, r.get_json()


def test_an_open_alert_follows_its_client_to_the_new_owner(api: Api) -> None:
    client_id = new_client(api, 2)
    r = api.post(
        "risk1",
        "/api/v1/alerts",
        json={
            "client_id": client_id,
            "level": "red",
            "category": "payment_overdue",
            "title": "付款逾期",
        },
    )
    assert r.status_code == 201, r.get_json()
    alert, case = r.get_json()["alert"], r.get_json()["id"]
    assert "sales1" in alert["owners"]

    hand_over(api, client_id, "sales2")

    def listed(user: str) -> list[dict[str, Any]]:
        return [
            i["alert"]
            for i in api.get(user, "/api/v1/alerts?limit=200").get_json()["items"]
            if i["alert"]["id"] == alert["id"]
        ]

    assert listed("sales1") == []
    assert sees(api, "sales1", case) == {"case": 404, "audit": 404, "list": False, "inbox": False}
    [now] = listed("sales2")
    assert "sales2" in now["owners"] and "sales1" not in now["owners"]
    assert sees(api, "sales2", case) == {"case": 200, "audit": 200, "list": True, "inbox": True}
    assert api.act("sales1", case, "respond", assessment="late", plan="call").status_code == 404
    r = api.act("sales2", case, "respond", assessment="the client is late", plan="call the CFO")
    assert r.status_code == 200, r.get_json()
    # the hand-over is in the client's audit trail, with the cases that moved
    trail = api.get(
        "auditor1", f"/api/v1/audit?client_id={client_id}&kind=client.updated"
    ).get_json()
    [update] = [i for i in trail["items"] if "owner" in i["payload"].get("diff", {})]
    assert update["payload"]["diff"]["owner"] == {"before": "sales1", "after": "sales2"}
    assert update["payload"]["handed_over"] == [case]


def test_a_client_a_sales_user_may_not_see_answers_as_a_missing_one_does(api: Api) -> None:
    theirs = new_client(api, 3, owner="sales2")
    missing = theirs + 1000
    for method, suffix, body in (
        ("GET", "", None),
        ("PATCH", "", {"industry": "零售业"}),
        ("POST", "/admission", {}),
        (
            "POST",
            "/change-requests",
            {"changes": {"credit_limit": 1_000_000}, "reason": "a new contract"},
        ),
    ):
        answers = []
        for client_id in (theirs, missing):
            r = api.call(method, "sales1", f"/api/v1/clients/{client_id}{suffix}", json=body)
            problem = r.get_json()
            answers.append(
                (
                    r.status_code,
                    problem["type"],
                    problem["title"],
                    problem["detail"].replace(str(client_id), "{id}"),
                )
            )
        assert answers[0] == answers[1], (method, suffix, answers)
        assert answers[0][0] == 404, (method, suffix, answers)
