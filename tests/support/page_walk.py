"""Walking every console page as one person in one language, and what a page must never show:
a coded value of ``workflow/risk/labels.py`` left raw, a Python repr, an amount without its
thousands separators, or a server error.

The pages are fetched with Flask's test client (they need no JavaScript to render); the
start is every console GET route without parameters, then every link found on a page that
names a console GET route. ``<code>`` elements (credit codes, rule ids, sources) and
``<script>``/``<style>`` are not read: they are identifiers, not words.
"""

from __future__ import annotations

import re
from collections import deque
from dataclasses import dataclass, field
from html.parser import HTMLParser
from urllib.parse import urlsplit

from flask import Flask
from werkzeug.exceptions import HTTPException
from werkzeug.routing import RequestRedirect

from tests.support.app import USERS
from tests.support.console import Console
from workflow.risk import labels

# Routes that answer files, not pages (downloads, the PDF report, the export) or that are
# fragments polled by a page.
NOT_PAGES = {
    "console.static",
    "console.download_evidence",
    "console.download_contract_file",
    "console.audit_export_download",
    "console.inbox_count",
    "console.config_backtest",
}
PER_ROUTE = 12  # distinct URLs read per route and query shape (enough for each kind of case)
SKIPPED_TAGS = {"script", "style", "code", "template", "title"}
VOID = {"br", "hr", "img", "input", "meta", "link", "area", "base", "col", "source", "wbr"}

REPR = [
    (re.compile(r"\{'|\[\{|\{\"|Decimal\(|datetime\.|\bNone\b|\bTrue\b|\bFalse\b"), "Python repr"),
    (re.compile(r"(?<![\d,.])\d{5,}\.\d+\b"), "amount without thousands separators"),
]


def enum_tables() -> dict[str, dict[str, str]]:
    """Every coded value of labels.py with its words in both languages."""
    values: dict[str, dict[str, str]] = {}
    for name in dir(labels):
        table = getattr(labels, name)
        # A part of the system is only a code after ``system:`` (its role is checked).
        if name.isupper() and isinstance(table, dict) and name != "SYSTEM_ACTORS":
            for key, words in table.items():
                values.setdefault(key, {}).update(words)
    return values


class _Text(HTMLParser):
    """The text nodes a reader sees (outside code, scripts and styles; a document shown
    for editing as code, such as a YAML editor's ``<textarea class="code">``, is code)."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.skip = 0
        self.stack: list[tuple[str, bool]] = []
        self.nodes: list[str] = []

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag in VOID:
            return
        classes = " ".join(value or "" for name, value in attrs if name == "class").split()
        skipping = (
            tag in SKIPPED_TAGS or "mermaid" in classes or (tag == "textarea" and "code" in classes)
        )
        self.stack.append((tag, skipping))
        if skipping:
            self.skip += 1

    def handle_endtag(self, tag: str) -> None:
        while self.stack:
            top, skipping = self.stack.pop()
            if skipping:
                self.skip -= 1
            if top == tag:
                break

    def handle_data(self, data: str) -> None:
        if not self.skip and data.strip():
            self.nodes.append(" ".join(data.split()))


def visible_text(html: str) -> list[str]:
    parser = _Text()
    parser.feed(html)
    return parser.nodes


_HREF = re.compile(r'href="(/[^"#]*)"')
_TOKEN = re.compile(r"[A-Za-z][A-Za-z0-9_.\-]*[A-Za-z0-9]|[A-Za-z]")


def slips(html: str, lang: str, names: frozenset[str] = frozenset()) -> list[str]:
    """What the page shows that it must not, each as ``kind: text`` (``names``: usernames,
    shown as they are)."""
    found: list[str] = []
    values = enum_tables()
    english = lang == "en"
    for node in visible_text(html):
        if node in names:
            continue
        for pattern, kind in REPR:
            if pattern.search(node):
                found.append(f"{kind}: {node[:120]}")
        for token in _TOKEN.findall(node):
            words = values.get(token)
            if words is None:
                continue
            compound = "_" in token or "." in token
            alone = node.strip(" :·,;()") == token
            said = words.get("en", "").lower() == token.lower()
            if (compound or alone or not english) and not (english and said):
                found.append(f"raw value {token!r}: {node[:120]}")
        for key in values:
            spaced = key.replace("_", " ")
            if "_" in key and spaced in node and (not english or node == spaced):
                found.append(f"raw value {key!r} with spaces: {node[:120]}")
    return found


@dataclass
class Walk:
    """What one person saw: pages read, slips by URL, server errors."""

    username: str
    lang: str
    pages: dict[str, str] = field(default_factory=dict)  # url → endpoint
    slips: dict[str, list[str]] = field(default_factory=dict)
    errors: dict[str, int] = field(default_factory=dict)
    refused: dict[str, str] = field(default_factory=dict)  # links that answer 403/404
    redirects: set[str] = field(default_factory=set)  # endpoints that send elsewhere

    @property
    def endpoints(self) -> set[str]:
        return set(self.pages.values()) | self.redirects


def console_routes(app: Flask) -> tuple[list[str], set[str]]:
    """The console's GET routes without parameters (where the walk starts) and every
    console GET endpoint that is a page (what the walk must reach)."""
    starts, pages = [], set()
    for rule in app.url_map.iter_rules():
        if not rule.endpoint.startswith("console.") or rule.endpoint in NOT_PAGES:
            continue
        if "GET" not in (rule.methods or ()):
            continue
        pages.add(rule.endpoint)
        if not rule.arguments:
            starts.append(rule.rule)
    return sorted(starts), pages


def _endpoint(app: Flask, url: str) -> str | None:
    parts = urlsplit(url)
    adapter = app.url_map.bind("localhost")
    try:
        endpoint, _args = adapter.match(parts.path, method="GET")
    except (HTTPException, RequestRedirect):
        return None
    return str(endpoint) if endpoint.startswith("console.") and endpoint not in NOT_PAGES else None


def walk(app: Flask, username: str, lang: str, login: bool = True) -> Walk:
    """Read every console page reachable by ``username`` in ``lang`` (``zh_CN``/``en``)."""
    console = Console(app.test_client())
    if lang != "zh_CN":
        with console.client.session_transaction() as session:
            session["lang"] = lang
    if login:
        response = console.login(username)
        assert response.status_code == 302, response.get_data(as_text=True)
    seen = Walk(username, lang)
    starts, _pages = console_routes(app)
    queue = deque(starts)
    shapes: dict[tuple[str, str], int] = {}
    queued = set(starts)
    came_from: dict[str, str] = {}
    while queue:
        url = queue.popleft()
        endpoint = _endpoint(app, url)
        if endpoint is None:
            continue
        response = console.get(url)
        if response.status_code in (403, 404) and url not in came_from:
            continue  # a route of the URL map this person may not open, and is not shown
        if response.status_code >= 500:
            seen.errors[url] = response.status_code
            continue
        if response.status_code in (403, 404) and url in came_from:
            seen.refused[url] = f"{response.status_code}, linked from {came_from.get(url)}"
            continue
        if response.status_code in (301, 302, 303):
            seen.redirects.add(endpoint)
            location = urlsplit(response.headers["Location"])
            target = location.path + (f"?{location.query}" if location.query else "")
            if target not in queued:
                queued.add(target)
                queue.append(target)
            continue
        if response.status_code != 200 or not response.mimetype.startswith("text/html"):
            continue
        seen.pages[url] = endpoint
        html = response.get_data(as_text=True)
        if found := slips(html, "en" if lang == "en" else "zh-CN", frozenset(USERS)):
            seen.slips[url] = found
        for link in _HREF.findall(html):
            link = link.replace("&amp;", "&")
            target = _endpoint(app, link)
            if target is None or link in queued:
                continue
            # The same page of another record counts against the cap; another tab or
            # filter of it does not.
            shape = (target, re.sub(r"\d+", "N", urlsplit(link).query))
            if shapes.get(shape, 0) >= PER_ROUTE:
                continue
            shapes[shape] = shapes.get(shape, 0) + 1
            queued.add(link)
            came_from[link] = url
            queue.append(link)
    return seen
