"""The HTTP transport for JSON-RPC: POST a JSON body to `/`, get JSON back.

A threaded stdlib server with HTTP/1.1 keep-alive; each request is handled by `node.rpc`.
"""

from __future__ import annotations

import socket
import threading
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from node.health import node_http_answer
from node.rpc import Rpc

__all__ = ["RpcServer"]

MAX_BODY = 32 * 1024 * 1024


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        super().setup()
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle holds the
        # body until the client's delayed ACK (~40 ms) for every single request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        length = int(self.headers.get("Content-Length") or 0)
        if length > MAX_BODY:
            self._reply(413, b'{"error":"request body too large"}')
            return
        body = self.rfile.read(length)
        answer = self.server.rpc.handle(body)
        self._reply(200, answer if answer is not None else b"")

    def do_GET(self) -> None:  # noqa: N802
        answer = node_http_answer(self.path, self.server.rpc)
        if answer is None:
            self._reply(405, b'{"error":"use POST with a JSON-RPC 2.0 body"}')
            return
        status, content_type, body = answer
        self._reply(status, body, content_type=content_type)

    def _reply(self, status: int, body: bytes, *, content_type: str = "application/json") -> None:
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], rpc: Rpc) -> None:
        self.rpc = rpc
        super().__init__(address, _Handler)


class RpcServer:
    def __init__(self, host: str, port: int, rpc: Rpc) -> None:
        self._server = _Server((host, port), rpc)
        bound = self._server.server_address
        self.host = host
        self.port = int(bound[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rpc-server", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._server.shutdown()
        self._server.server_close()
