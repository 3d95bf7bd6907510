"""Group robots for tests: a real HTTP server on 127.0.0.1 standing in for WeCom, DingTalk
and Feishu (answers scripted per path), and a definitions folder whose alert routing pushes
to it."""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import yaml

DEFINITIONS = Path(__file__).resolve().parents[2] / "definitions"


@dataclass
class Received:
    path: str
    query: str
    body: dict[str, Any]


@dataclass
class RobotServer:
    """What each path answers (a list of (status, JSON) used in turn, the last one kept)."""

    port: int = 0
    received: list[Received] = field(default_factory=list)
    answers: dict[str, list[tuple[int, dict[str, Any]]]] = field(default_factory=dict)

    def url(self, path: str) -> str:
        return f"http://127.0.0.1:{self.port}{path}"

    def on(self, path: str) -> list[Received]:
        return [r for r in self.received if r.path == path]

    def answer(self, path: str) -> tuple[int, dict[str, Any]]:
        queue = self.answers.get(path) or [(200, {"errcode": 0, "errmsg": "ok"})]
        return queue.pop(0) if len(queue) > 1 else queue[0]


@contextmanager
def robot_server() -> Iterator[RobotServer]:
    robots = RobotServer()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802
            body = self.rfile.read(int(self.headers["Content-Length"]))
            path, _, query = self.path.partition("?")
            robots.received.append(Received(path, query, json.loads(body)))
            status, answer = robots.answer(path)
            data = json.dumps(answer).encode()
            self.send_response(status)
            self.send_header("Content-Type", "application/json")
            self.send_header("Content-Length", str(len(data)))
            self.end_headers()
            self.wfile.write(data)

        def log_message(self, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    robots.port = server.server_port
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield robots
    finally:
        server.shutdown()
        server.server_close()
        thread.join(timeout=5)


def definitions_with_channels(
    folder: Path, channels: list[dict[str, Any]], rule_channels: dict[int, list[dict[str, Any]]]
) -> Path:
    """A copy of the shipped definitions whose alert routing has ``channels`` for every alert
    and ``rule_channels`` on the rules at those indexes."""
    folder.mkdir(parents=True, exist_ok=True)
    for path in DEFINITIONS.glob("*.yaml"):
        doc = yaml.safe_load(path.read_text(encoding="utf-8"))
        if doc["name"] == "alert_remediation":
            routing = doc["settings"]["routing"]
            if channels:
                routing["channels"] = channels
            for index, found in rule_channels.items():
                routing["rules"][index]["channels"] = found
        (folder / path.name).write_text(yaml.safe_dump(doc, allow_unicode=True), encoding="utf-8")
    return folder
