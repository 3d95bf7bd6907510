"""Every console page for every role in zh-CN and in English, over a world with one of each
object (a configuration change awaiting approval among them): no coded value left raw, no Python repr, no unformatted amount, no server error;
every console page is reached by someone. A sample is then read in a real Chromium."""

from __future__ import annotations

import pytest

from tests.support.app import USERS
from tests.support.browser import Live
from tests.support.page_walk import Walk, console_routes, slips, walk
from tests.support.world import seed_world

LANGS = ("zh_CN", "en")


@pytest.fixture(scope="module")
def world(live: Live) -> dict[str, int]:
    return seed_world(live.app)


@pytest.fixture(scope="module")
def walks(live: Live, world: dict[str, int]) -> dict[tuple[str, str], Walk]:
    return {(user, lang): walk(live.app, user, lang) for user in USERS for lang in LANGS}


@pytest.mark.parametrize("lang", LANGS)
@pytest.mark.parametrize("username", sorted(USERS))
def test_every_page_reads_in_words(walks, username: str, lang: str) -> None:
    seen = walks[(username, lang)]
    assert seen.errors == {}
    assert seen.refused == {}  # no page links to one that refuses the reader
    assert seen.slips == {}
    assert len(seen.pages) >= 5, seen.pages


@pytest.mark.parametrize("lang", LANGS)
def test_the_walk_reads_the_configuration_change(walks, world, lang: str) -> None:
    """The change awaiting approval is read in each language (and so shows no raw kind,
    diff or content outside code) by everyone it is shown to."""
    url = f"/cases/{world['config_change']}"
    readers = {user for user in USERS if url in walks[(user, lang)].pages}
    assert {"risk1", "manager1"} <= readers, readers


def test_the_walk_reaches_every_console_page(live: Live, walks) -> None:
    _starts, pages = console_routes(live.app)
    reached = set().union(*(w.endpoints for w in walks.values()))
    # The sign-in page is read signed out; the rest by someone signed in.
    reached |= walk(live.app, "", "en", login=False).endpoints
    assert pages - reached == set()


def test_a_sample_reads_in_words_in_chromium(sign_in, live: Live, world) -> None:
    for username, lang, path in (
        ("risk1", "zh_CN", f"/clients/{world['portrait']}"),
        ("risk1", "en", f"/cases/{world['review']}"),
        ("auditor1", "zh_CN", "/audit/records"),
        ("manager1", "en", "/dashboard"),
    ):
        user = sign_in(username, "en" if lang == "en" else None)
        user.goto(path)
        user.page.wait_for_load_state("networkidle")
        text = user.page.content()
        assert slips(text, "en" if lang == "en" else "zh-CN", frozenset(USERS)) == []
        assert user.errors == []


def test_the_open_cases_chart_labels_every_bar(sign_in, live: Live, world) -> None:
    manager = sign_in("manager1")
    manager.goto("/dashboard")
    chart = "[data-panel=stages] canvas[data-chart][data-drawn='1']"
    manager.page.wait_for_selector(chart)
    labelled, bars = manager.page.eval_on_selector(
        chart,
        "c => [Chart.getChart(c).scales.y.ticks.length, Chart.getChart(c).data.labels.length]",
    )
    assert bars >= 3 and labelled == bars
