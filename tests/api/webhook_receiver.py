"""A real HTTP receiver for webhook tests: a thread running `http.server` on 127.0.0.1,
recording every request per path and answering with the statuses it is told to."""

from __future__ import annotations

import json
import threading
from collections import defaultdict
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass
class Received:
    path: str
    headers: dict[str, str]
    body: bytes

    @property
    def event(self) -> dict[str, Any]:
        parsed: dict[str, Any] = json.loads(self.body)
        return parsed


@dataclass
class Receiver:
    server: ThreadingHTTPServer
    got: dict[str, list[Received]] = field(default_factory=lambda: defaultdict(list))
    statuses: dict[str, list[int]] = field(default_factory=lambda: defaultdict(list))
    lock: threading.Lock = field(default_factory=threading.Lock)

    def url(self, path: str) -> str:
        host, port = self.server.server_address[:2]
        return f"http://{host!s}:{port}{path}"

    def answer(self, path: str, *statuses: int) -> None:
        """The statuses of the next requests to `path` (then 200)."""
        with self.lock:
            self.statuses[path] = list(statuses)

    def events(self, path: str) -> list[dict[str, Any]]:
        with self.lock:
            return [r.event for r in self.got[path]]

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def start_receiver() -> Receiver:
    receiver: Receiver

    class Handler(BaseHTTPRequestHandler):
        def do_POST(self) -> None:  # noqa: N802 (http.server's name)
            length = int(self.headers.get("Content-Length", "0"))
            body = self.rfile.read(length)
            with receiver.lock:
                headers = {k.lower(): v for k, v in self.headers.items()}
                receiver.got[self.path].append(Received(self.path, headers, body))
                queue = receiver.statuses[self.path]
                status = queue.pop(0) if queue else 200
            self.send_response(status)
            self.send_header("Content-Length", "2")
            self.end_headers()
            self.wfile.write(b"ok")

        def log_message(self, format: str, *args: Any) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
    receiver = Receiver(server)
    threading.Thread(target=server.serve_forever, name="webhook-receiver", daemon=True).start()
    return receiver
