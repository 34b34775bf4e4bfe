"""The soak's webhook receiver: `python -m medledger.ops.webhook_sink PORT LOG`.

It answers `GET /healthz`, and every `POST` (at most `MAX_BODY` bytes) with 204 once it
has appended one JSON line to LOG: the path, the time of arrival, the `MedLedger-Event-Id`
and `MedLedger-Signature` headers and the raw body. The line is written (one `write` on
an O_APPEND descriptor) before the answer, so an event the delivery worker saw a 2xx for
is in the log even when the receiver is SIGKILLed right after; `ops.soak_checks`
verifies signatures, order and completeness from it afterwards.
"""

from __future__ import annotations

import json
import os
import sys
import threading
import time
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Final

__all__ = ["MAX_BODY", "main"]

MAX_BODY: Final = 256 * 1024


def main(argv: list[str]) -> None:
    port, log_path = int(argv[0]), argv[1]
    fd = os.open(log_path, os.O_WRONLY | os.O_APPEND | os.O_CREAT, 0o600)
    lock = threading.Lock()

    class Handler(BaseHTTPRequestHandler):
        protocol_version = "HTTP/1.1"  # keep-alive, as the delivery worker's client

        def _answer(self, status: int) -> None:
            self.send_response(status)
            self.send_header("Content-Length", "0")
            self.end_headers()

        def do_GET(self) -> None:  # noqa: N802 (http.server's name)
            self._answer(200 if self.path == "/healthz" else 404)

        def do_POST(self) -> None:  # noqa: N802
            try:
                length = int(self.headers.get("Content-Length", "0"))
            except ValueError:
                length = -1
            if not 0 < length <= MAX_BODY:
                self.close_connection = True
                self._answer(413)
                return
            body = self.rfile.read(length)
            line = {
                "path": self.path,
                "at": int(time.time()),
                "id": self.headers.get("MedLedger-Event-Id", ""),
                "signature": self.headers.get("MedLedger-Signature", ""),
                "body": body.decode("utf-8", "replace"),
            }
            data = (json.dumps(line, ensure_ascii=False) + "\n").encode()
            with lock:
                os.write(fd, data)
            self._answer(204)

        def log_message(self, format: str, *args: object) -> None:
            return

    server = ThreadingHTTPServer(("127.0.0.1", port), Handler)
    server.daemon_threads = True
    server.serve_forever()


if __name__ == "__main__":
    main(sys.argv[1:])
