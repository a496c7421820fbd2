"""A stand-in for Rasa's HTTP API on a loopback port, recording what the desk sends.

Only for the delivery unit tests: it checks the request shape (path, token, output
channel, intent) and lets a test make Rasa fail. The real round trip through Rasa and
the action server is tested in tests/integration/test_handoff.py.
"""

from __future__ import annotations

import json
import threading
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from urllib.parse import parse_qs, urlsplit


@dataclass
class FakeRasa:
    """Requests received (path, query, body) and the status code to answer with."""

    port: int = 0
    status: int = 200
    requests: list[tuple[str, dict[str, list[str]], dict]] = field(default_factory=list)

    @property
    def intents(self) -> list[tuple[str, str]]:
        """(conversation id, intent) of every trigger_intent call, in order."""
        return [(path.split("/")[2], body["name"]) for path, _, body in self.requests]


@contextmanager
def fake_rasa() -> Iterator[FakeRasa]:
    state = FakeRasa()

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:
            url = urlsplit(self.path)
            length = int(self.headers.get("Content-Length") or 0)
            body = json.loads(self.rfile.read(length) or b"{}")
            state.requests.append((url.path, parse_qs(url.query), body))
            self.send_response(state.status)
            self.send_header("Content-Type", "application/json")
            self.end_headers()
            self.wfile.write(b"{}")

        def log_message(self, *args: object) -> None:
            pass

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    state.port = server.server_address[1]
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield state
    finally:
        server.shutdown()
        server.server_close()
