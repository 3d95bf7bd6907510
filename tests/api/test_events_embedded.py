"""Done when: posting a litigation event that matches a rule raises the alert,
tags and re-rates the client within seconds in embedded mode — the in-process Dramatiq
worker and scheduler of ``riskloop run``, nothing drained by the test."""

from __future__ import annotations

from flask import Flask

from api.worker import EmbeddedServices
from tests.support.app import Api, drain
from tests.support.events import admitted_client, alerts_of, event, ratings_of, tags_of
from tests.support.onboarding import A_FACTS, client_row
from tests.support.services import wait_for


def test_a_litigation_event_raises_the_alert_tags_and_re_rates_through_the_embedded_worker(
    live: Flask,
) -> None:
    api = Api(live.test_client())
    cid = admitted_client(live, api, 31, **A_FACTS)
    for n in (1, 2):  # two earlier lawsuits, already handled
        r = api.post(
            "risk1", f"/api/v1/clients/{cid}/events", json=event("litigation", f"纠纷 {n}")
        )
        assert r.status_code == 201
    drain(live)
    assert alerts_of(live, cid) == []
    services = EmbeddedServices(live, threads=2, interval=0.2)
    services.start()
    try:
        r = api.post(
            "risk1",
            f"/api/v1/clients/{cid}/events",
            json=event(
                "litigation", "买卖合同纠纷", details="原告：某供应商；案号 (2026) 沪01民初 1 号"
            ),
        )
        assert r.status_code == 201, r.get_json()
        wait_for(lambda: alerts_of(live, cid), 30, "the monitoring rules to raise the alert")
        wait_for(
            lambda: any(x.trigger == f"event:{r.get_json()['id']}" for x in ratings_of(live, cid)),
            30,
            "the re-rating",
        )
    finally:
        services.stop()
    assert [a[:2] for a in alerts_of(live, cid)] == [("red", "litigation")]
    assert "频繁涉诉" in tags_of(live, cid)
    latest = ratings_of(live, cid)[-1]
    client = client_row(live, cid)
    # three lawsuits score the litigation indicator 40 instead of 100: 100 → 88, still A
    assert (latest.rating, float(latest.risk_score)) == (client.rating, float(client.risk_score))
    assert float(client.risk_score) == 88.0
