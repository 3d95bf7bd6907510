"""Screening data providers: where blacklist, judgement-debtor and litigation facts come from.

A provider answers one question — what is known about this company — as facts
the risk rule set understands plus the hits behind them. The built-in
:class:`WatchlistProvider` reads the locally imported watch lists (no network);
:class:`HttpProvider` asks an external service with a timeout and retries and
raises ``ServiceUnavailable`` when it stays unreachable, which the task runner
retries and finally turns into an incident on the case.
"""

from __future__ import annotations

import json
import logging
import os
import time
import urllib.error
import urllib.parse
import urllib.request
from abc import ABC, abstractmethod
from collections.abc import Mapping
from dataclasses import dataclass, field
from typing import Any

from sqlalchemy.orm import Session

from workflow.errors import ConfigurationError, ServiceUnavailable
from workflow.risk.clients.model import Client
from workflow.risk.screening.name_index import name_hits, watchlist_index
from workflow.risk.screening.names import Thresholds
from workflow.risk.screening.rules import PAYMENT_HISTORIES
from workflow.risk.screening.watchlist import WatchlistEntry, listings, listings_by_id_number

log = logging.getLogger(__name__)

# Facts a provider may report; the rest of the rule set's facts come from the record.
PROVIDER_FACTS = (
    "blacklisted",
    "dishonest_debtor",
    "litigation_count",
    "negative_news_count",
    "payment_history",
)


MAX_EVENTS = 200


@dataclass(frozen=True)
class ProviderResult:
    """What one provider knows about a company."""

    provider: str
    facts: dict[str, Any] = field(default_factory=dict)
    hits: list[dict[str, Any]] = field(default_factory=list)
    # Name matches a human must look at: [{list, name, score, match, certainty, ...}].
    possible_matches: list[dict[str, Any]] = field(default_factory=list)
    # Risk events the source reports (risk event bodies with an ``external_id``), taken by
    # the scheduled poll of active clients (workflow.risk.events.provider_poll).
    events: list[dict[str, Any]] = field(default_factory=list)

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "facts": dict(self.facts), "hits": list(self.hits)}


class DataProvider(ABC):
    """The interface every screening data source implements."""

    name: str = "provider"

    @abstractmethod
    def lookup(self, session: Session, client: Client) -> ProviderResult:
        """Facts about ``client``.

        Raises:
            ServiceUnavailable: the source cannot be reached now (retried, then an incident).
        """


class WatchlistProvider(DataProvider):
    """The built-in provider over the imported watch lists (``riskloop watchlist import``).

    A credit code or ID number on a list is a listing (certain). A name like the
    client's (:mod:`workflow.risk.screening.names`) is a possible match whatever its
    score: a name alone does not prove identity, so it goes to a human, who confirms
    or clears it; a cleared entry is not raised again for the client until it changes.
    """

    name = "watchlist"

    def __init__(self, thresholds: Thresholds | None = None) -> None:
        self.thresholds = thresholds or Thresholds()

    def lookup(self, session: Session, client: Client) -> ProviderResult:
        entries = listings(session, client.credit_code or "")
        by_id = listings_by_id_number(session, client.id_number)
        known = {e.id for e in entries}
        entries += [e for e in by_id if e.id not in known]
        lists = {e.list_name for e in entries}
        matches = name_hits(
            session,
            watchlist_index(session),
            client.name,
            self.thresholds,
            client_id=client.id,
            skip=[e.id for e in entries],
        )
        return ProviderResult(
            provider=self.name,
            facts={
                "blacklisted": "blacklist" in lists,
                "dishonest_debtor": "dishonest_debtor" in lists,
            },
            hits=[_listing(e, client) for e in entries],
            possible_matches=[m.to_dict() for m in matches],
        )


def _listing(entry: WatchlistEntry, client: Client) -> dict[str, Any]:
    match = (
        "credit_code"
        if entry.credit_code and entry.credit_code == client.credit_code
        else ("id_number")
    )
    return {
        "list": entry.list_name,
        "name": entry.name,
        "reason": entry.reason,
        "source": entry.source,
        "match": match,
    }


class HttpProvider(DataProvider):
    """An external data service: ``GET {base_url}/companies/{credit_code}`` answering JSON
    with any of :data:`PROVIDER_FACTS`, an optional ``hits`` list and an optional ``events``
    list (risk events); 404 means unknown. It knows companies only: a natural person
    (no credit code) is not sent, and is screened on the watch lists by identity number
    and name instead."""

    name = "http"

    def __init__(
        self, base_url: str, *, timeout: float = 5.0, retries: int = 2, backoff: float = 0.2
    ) -> None:
        if not base_url.startswith(("http://", "https://")):
            raise ConfigurationError(
                f"RISKLOOP_PROVIDER_URL must be an http(s) URL, got {base_url!r}"
            )
        self.base_url = base_url.rstrip("/")
        self.timeout = timeout
        self.retries = retries
        self.backoff = backoff

    def lookup(self, session: Session, client: Client) -> ProviderResult:
        if not client.credit_code:
            return ProviderResult(provider=self.name)
        url = f"{self.base_url}/companies/{urllib.parse.quote(client.credit_code)}"
        last_error = ""
        for attempt in range(self.retries + 1):
            if attempt:
                time.sleep(self.backoff * 2 ** (attempt - 1))
            try:
                with urllib.request.urlopen(url, timeout=self.timeout) as response:  # noqa: S310
                    return self._result(json.loads(response.read().decode("utf-8")))
            except urllib.error.HTTPError as exc:
                if exc.code == 404:
                    return ProviderResult(provider=self.name)
                if exc.code < 500 and exc.code != 429:
                    raise ServiceUnavailable(
                        f"data provider refused the lookup (HTTP {exc.code}); "
                        "check RISKLOOP_PROVIDER_URL"
                    ) from exc
                last_error = f"HTTP {exc.code}"
            except (urllib.error.URLError, TimeoutError, OSError) as exc:
                last_error = type(exc).__name__
            except (json.JSONDecodeError, UnicodeDecodeError) as exc:
                last_error = f"invalid JSON ({exc})"
            log.warning(
                "data provider attempt %d of %d failed: %s",
                attempt + 1,
                self.retries + 1,
                last_error,
            )
        raise ServiceUnavailable(
            f"data provider {self.base_url} unavailable after "
            f"{self.retries + 1} attempt(s): {last_error}"
        )

    def _result(self, body: Any) -> ProviderResult:
        if not isinstance(body, Mapping):
            raise ServiceUnavailable("data provider answered something other than a JSON object")
        facts: dict[str, Any] = {}
        for key in PROVIDER_FACTS:
            value = body.get(key)
            if value is None:
                continue
            if not _valid_fact(key, value):
                raise ServiceUnavailable(f"data provider sent an invalid {key}: {value!r}")
            facts[key] = value
        hits = body.get("hits") or []
        events = body.get("events") or []
        return ProviderResult(
            provider=self.name,
            facts=facts,
            hits=[dict(h) for h in hits if isinstance(h, Mapping)][:100],
            events=[dict(e) for e in events if isinstance(e, Mapping)][:MAX_EVENTS]
            if isinstance(events, list)
            else [],
        )


def _valid_fact(key: str, value: Any) -> bool:
    if key in ("blacklisted", "dishonest_debtor"):
        return isinstance(value, bool)
    if key == "payment_history":
        return value in PAYMENT_HISTORIES
    return isinstance(value, int) and not isinstance(value, bool) and value >= 0


def _name_settings(setting: Any) -> dict[str, str]:
    return {
        key: setting(key, "")
        for key in ("RISKLOOP_NAME_MATCH_CERTAIN", "RISKLOOP_NAME_MATCH_POSSIBLE")
    }


def configured_providers(settings: Mapping[str, Any] | None = None) -> list[DataProvider]:
    """The providers named in ``RISKLOOP_SCREENING_PROVIDERS`` (default ``watchlist``).

    Raises:
        ConfigurationError: an unknown provider name, or ``http`` without a URL.
    """

    def setting(key: str, default: str) -> str:
        if settings is not None and settings.get(key) not in (None, ""):
            return str(settings[key])
        return os.environ.get(key, default)

    providers: list[DataProvider] = []
    for name in filter(
        None, (n.strip() for n in setting("RISKLOOP_SCREENING_PROVIDERS", "watchlist").split(","))
    ):
        if name == "watchlist":
            providers.append(WatchlistProvider(Thresholds.from_settings(_name_settings(setting))))
        elif name == "http":
            url = setting("RISKLOOP_PROVIDER_URL", "")
            if not url:
                raise ConfigurationError("the http screening provider needs RISKLOOP_PROVIDER_URL")
            providers.append(
                HttpProvider(
                    url,
                    timeout=float(setting("RISKLOOP_PROVIDER_TIMEOUT", "5")),
                    retries=int(setting("RISKLOOP_PROVIDER_RETRIES", "2")),
                )
            )
        else:
            raise ConfigurationError(
                f"unknown screening provider {name!r} in "
                "RISKLOOP_SCREENING_PROVIDERS; use watchlist and/or http"
            )
    return providers
