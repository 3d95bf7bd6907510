"""Screening data providers: the HTTP provider against a real local server, the watch lists."""

from __future__ import annotations

import json
from collections.abc import Iterator

import pytest
from sqlalchemy.orm import Session

from tests.support.providers import FakeService
from workflow.errors import ConfigurationError, ServiceUnavailable, ValidationFailed
from workflow.records.identity import Actor
from workflow.risk.clients.creditcode import make_credit_code
from workflow.risk.clients.model import Client
from workflow.risk.screening.providers import (
    HttpProvider,
    ProviderResult,
    WatchlistProvider,
    configured_providers,
)
from workflow.risk.screening.screen import merge_facts
from workflow.risk.screening.watchlist import import_watchlist, listings, parse_watchlist

CODE = make_credit_code("91310000000000001")
OTHER = make_credit_code("91310000000000002")


@pytest.fixture
def service() -> Iterator[FakeService]:
    fake = FakeService()
    yield fake
    fake.close()


def client() -> Client:
    return Client(id=1, name="x", credit_code=CODE, owner="sales1")


def test_the_http_provider_reads_facts_and_hits(service: FakeService) -> None:
    service.answers.append(
        (
            200,
            {
                "dishonest_debtor": True,
                "litigation_count": 4,
                "hits": [{"list": "court", "reason": "unpaid"}],
            },
            0.0,
        )
    )
    result = HttpProvider(service.url, timeout=2, retries=0).lookup(None, client())  # type: ignore[arg-type]
    assert result.facts == {"dishonest_debtor": True, "litigation_count": 4}
    assert result.hits == [{"list": "court", "reason": "unpaid"}]
    assert service.requests == [f"/companies/{CODE}"]


def test_an_unknown_company_is_no_finding(service: FakeService) -> None:
    service.answers.append((404, {"error": "unknown"}, 0.0))
    assert HttpProvider(service.url, retries=0).lookup(None, client()).facts == {}  # type: ignore[arg-type]


def test_server_errors_are_retried_then_succeed(service: FakeService) -> None:
    service.answers += [(503, {}, 0.0), (500, {}, 0.0), (200, {"blacklisted": True}, 0.0)]
    provider = HttpProvider(service.url, timeout=2, retries=2, backoff=0.01)
    assert provider.lookup(None, client()).facts == {"blacklisted": True}  # type: ignore[arg-type]
    assert len(service.requests) == 3


def test_a_provider_that_stays_down_is_unavailable_after_its_retries(service: FakeService) -> None:
    service.answers += [(503, {}, 0.0)] * 5
    with pytest.raises(ServiceUnavailable, match="after 3 attempt"):
        HttpProvider(service.url, retries=2, backoff=0.01).lookup(None, client())  # type: ignore[arg-type]
    assert len(service.requests) == 3


def test_a_slow_provider_times_out(service: FakeService) -> None:
    service.answers += [(200, {}, 1.0)]
    with pytest.raises(ServiceUnavailable, match="Timeout|URLError"):
        HttpProvider(service.url, timeout=0.2, retries=0).lookup(None, client())  # type: ignore[arg-type]


def test_nonsense_from_a_provider_is_not_taken_as_a_clean_record(service: FakeService) -> None:
    service.answers += [(200, {"blacklisted": "no"}, 0.0)]
    with pytest.raises(ServiceUnavailable, match="invalid blacklisted"):
        HttpProvider(service.url, retries=0).lookup(None, client())  # type: ignore[arg-type]


def test_providers_come_from_configuration() -> None:
    names = [
        p.name
        for p in configured_providers(
            {
                "RISKLOOP_SCREENING_PROVIDERS": "watchlist,http",
                "RISKLOOP_PROVIDER_URL": "http://127.0.0.1:9",
            }
        )
    ]
    assert names == ["watchlist", "http"]
    with pytest.raises(ConfigurationError):
        configured_providers({"RISKLOOP_SCREENING_PROVIDERS": "http"})
    with pytest.raises(ConfigurationError):
        configured_providers({"RISKLOOP_SCREENING_PROVIDERS": "oracle"})


def test_provider_facts_only_make_a_client_look_worse() -> None:
    merged = merge_facts(
        {"blacklisted": False, "litigation_count": 2, "payment_history": "overdue"},
        [
            ProviderResult(
                "a", {"blacklisted": True, "litigation_count": 1, "payment_history": "good"}
            ),
            ProviderResult("b", {"blacklisted": False, "litigation_count": 5}),
        ],
    )
    assert merged == {"blacklisted": True, "litigation_count": 5, "payment_history": "overdue"}


def test_watchlist_files_are_checked_row_by_row() -> None:
    bad = f"credit_code,name,list,reason\n{CODE},A,blacklist,fraud\n{CODE[:-1]}0,B,blacklist,x\n{OTHER},C,greylist,x\n"
    with pytest.raises(ValidationFailed) as caught:
        parse_watchlist(bad.encode(), "lists.csv")
    assert set(caught.value.extra["errors"]) == {"row 3", "row 4"}
    with pytest.raises(ValidationFailed):
        parse_watchlist(b"code,name\n", "lists.csv")
    rows = parse_watchlist(
        json.dumps(
            [{"credit_code": CODE.lower(), "name": "A", "list": "dishonest_debtor", "reason": ""}]
        ),
        "lists.json",
    )
    assert rows[0]["credit_code"] == CODE


def test_re_importing_a_list_replaces_it_and_leaves_other_lists(session: Session) -> None:
    actor = Actor.system("test")
    import_watchlist(
        session,
        parse_watchlist(
            f"credit_code,name,list,reason\n{CODE},A,blacklist,fraud\n{OTHER},B,dishonest_debtor,debt\n",
            "first.csv",
        ),
        actor,
        source="first.csv",
    )
    session.commit()
    assert WatchlistProvider().lookup(session, client()).facts == {
        "blacklisted": True,
        "dishonest_debtor": False,
    }
    import_watchlist(
        session,
        parse_watchlist(f"credit_code,name,list,reason\n{OTHER},B,blacklist,new\n", "second.csv"),
        actor,
        source="second.csv",
    )
    session.commit()
    assert listings(session, CODE) == []
    assert sorted(e.list_name for e in listings(session, OTHER)) == [
        "blacklist",
        "dishonest_debtor",
    ]
