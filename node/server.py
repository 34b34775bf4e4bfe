"""The HTTP transport for JSON-RPC: POST a JSON body to `/`, get JSON back.

A threaded stdlib server with HTTP/1.1 keep-alive; each request is handled by `node.rpc`.
Everything a client controls is bounded (`HttpLimits`):

- connections: at most `max_connections` at once, one thread each. When a new one comes
  at the cap, the connection that has waited longest on its client (idle, sending its
  headers or body, or not taking its answer) is closed to make room; when every
  connection is being served, the new one is answered 503 and closed.
- time: a connection is closed once it has been idle `idle_timeout`, a request's line and
  headers must arrive within `header_timeout` of its first byte, its body within
  `body_timeout`, and its answer must be taken within `write_timeout`.
- the request: a POST needs `Content-Type: application/json` (415 otherwise, so no
  cross-origin "simple request" of a browser gets through; no CORS header is ever sent and
  a preflight is refused), a Content-Length of digits (411 missing, 400 malformed) of at
  most `MAX_BODY_BYTES` (413); a chunked body is refused (411).

A refusal is a JSON-RPC error object with `data.reason` (`node.errors.Reason`), and the
connection is closed after it, since the body was not read.
"""

from __future__ import annotations

import io
import json
import logging
import re
import socket
import threading
import time
from dataclasses import dataclass
from http import HTTPStatus
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any

from medledger.node.errors import INVALID_REQUEST, LIMIT_EXCEEDED, Reason, Refused
from medledger.node.health import node_http_answer
from medledger.node.rpc import MAX_BODY_BYTES, Rpc

__all__ = ["HttpLimits", "RpcServer"]

log = logging.getLogger("medledger.node.server")
_DIGITS = re.compile(r"[0-9]{1,19}")


@dataclass(frozen=True, slots=True)
class HttpLimits:
    max_connections: int = 256
    idle_timeout: float = 10.0  # seconds
    header_timeout: float = 10.0
    body_timeout: float = 30.0  # 8 MB at 270 KB/s
    write_timeout: float = 30.0
    max_body: int = MAX_BODY_BYTES


class _Reader(io.RawIOBase):
    """A connection's reading side under a deadline: each read waits at most until
    `deadline`, so a client sending a byte at a time cannot stretch a phase. While
    `idle`, the first byte that arrives starts the header phase."""

    def __init__(self, sock: socket.socket, limits: HttpLimits) -> None:
        self._sock = sock
        self._limits = limits
        self.deadline = 0.0
        self.idle = False

    def readable(self) -> bool:
        return True

    def readinto(self, buffer: Any) -> int:
        remaining = self.deadline - time.monotonic()
        if remaining <= 0:
            raise TimeoutError("the client did not send in time")
        self._sock.settimeout(remaining)
        count = self._sock.recv_into(buffer)
        if count and self.idle:
            self.idle = False
            self.deadline = time.monotonic() + self._limits.header_timeout
        return count

    def expect(self, seconds: float, *, idle: bool = False) -> None:
        self.deadline = time.monotonic() + seconds
        self.idle = idle


class _Writer(io.BufferedIOBase):
    """A connection's writing side: every write is sent whole (within the socket's
    timeout, which `sendall` applies to the whole write)."""

    def __init__(self, sock: socket.socket) -> None:
        self._sock = sock

    def writable(self) -> bool:
        return True

    def write(self, data: Any) -> int:
        self._sock.sendall(data)
        return len(data)


class _Handler(BaseHTTPRequestHandler):
    protocol_version = "HTTP/1.1"
    server: _Server

    def setup(self) -> None:
        self.connection = self.request
        # Headers and body go out in separate writes; without TCP_NODELAY, Nagle holds the
        # body until the client's delayed ACK (~40 ms) for every single request.
        self.connection.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
        self.limits = self.server.limits
        self.reader = _Reader(self.connection, self.limits)
        self.rfile = io.BufferedReader(self.reader)
        self.wfile = _Writer(self.connection)

    def handle_one_request(self) -> None:
        self.server.waiting(self.connection)
        self.reader.expect(self.limits.idle_timeout, idle=True)
        super().handle_one_request()

    def handle_expect_100(self) -> bool:
        refusal = self._refusal()
        if refusal is not None:
            self._refuse(*refusal)
            return False
        return super().handle_expect_100()

    def do_POST(self) -> None:  # noqa: N802 - stdlib naming
        refusal = self._refusal()
        if refusal is not None:
            self._refuse(*refusal)
            return
        length = int(self.headers["Content-Length"])
        self.reader.expect(self.limits.body_timeout)
        body = self.rfile.read(length)
        if len(body) < length:  # the client went away (or was closed to make room)
            self.close_connection = True
            return
        self.server.working(self.connection)
        answer = self.server.rpc.handle(body)
        self._reply(200, answer if answer is not None else b"")

    def _refusal(self) -> tuple[HTTPStatus, Refused] | None:
        """Why this POST's headers are refused, if they are."""
        if self.command != "POST":
            return None
        media = (self.headers.get("Content-Type") or "").split(";")[0].strip().lower()
        if media != "application/json":
            return HTTPStatus.UNSUPPORTED_MEDIA_TYPE, Refused(
                INVALID_REQUEST,
                Reason.CONTENT_TYPE,
                f"Content-Type must be application/json, got {media[:60] or 'none'!r}",
            )
        if self.headers.get("Transfer-Encoding") is not None:
            return HTTPStatus.LENGTH_REQUIRED, Refused(
                INVALID_REQUEST,
                Reason.CONTENT_LENGTH,
                "Transfer-Encoding is not accepted: send the body with a Content-Length",
            )
        lengths = self.headers.get_all("Content-Length") or []
        if not lengths:
            return HTTPStatus.LENGTH_REQUIRED, Refused(
                INVALID_REQUEST, Reason.CONTENT_LENGTH, "a POST needs a Content-Length"
            )
        if len(lengths) > 1 or not _DIGITS.fullmatch(lengths[0].strip()):
            shown = ", ".join(lengths)[:60]
            return HTTPStatus.BAD_REQUEST, Refused(
                INVALID_REQUEST,
                Reason.CONTENT_LENGTH,
                f"Content-Length must be one non-negative whole number, got {shown!r}",
            )
        length = int(lengths[0])
        if length > self.limits.max_body:
            return HTTPStatus.REQUEST_ENTITY_TOO_LARGE, Refused(
                LIMIT_EXCEEDED,
                Reason.BODY_TOO_LARGE,
                f"the body is {length:,} bytes; at most {self.limits.max_body:,} are accepted",
                limit=self.limits.max_body,
            )
        return None

    def do_GET(self) -> None:  # noqa: N802
        self.server.working(self.connection)
        answer = node_http_answer(self.path, self.server.rpc)
        if answer is None:
            self._reply(405, b'{"error":"use POST with a JSON-RPC 2.0 body"}')
            return
        status, content_type, body = answer
        self._reply(status, body, content_type=content_type)

    def do_OPTIONS(self) -> None:  # noqa: N802 - a CORS preflight: refused, no CORS headers
        self._refuse(
            HTTPStatus.METHOD_NOT_ALLOWED,
            Refused(INVALID_REQUEST, Reason.CONTENT_TYPE, "cross-origin requests are not served"),
        )

    def send_error(self, code: int, message: str | None = None, explain: str | None = None) -> None:
        """The stdlib's own refusals (a malformed request line, too many or too long
        headers, an unknown method), as JSON-RPC errors."""
        status = HTTPStatus(code)
        text = message or status.phrase
        self._refuse(status, Refused(INVALID_REQUEST, Reason.MALFORMED_HTTP, text))

    def _refuse(self, status: HTTPStatus, refusal: Refused) -> None:
        body = {"jsonrpc": "2.0", "id": None, "error": refusal.to_json()}
        self.close_connection = True
        self._reply(status, json.dumps(body).encode(), close=True)

    def _reply(
        self,
        status: int,
        body: bytes,
        *,
        content_type: str = "application/json",
        close: bool = False,
    ) -> None:
        self.server.waiting(self.connection)  # now the client must take the answer
        self.connection.settimeout(self.limits.write_timeout)
        self.send_response(status)
        self.send_header("Content-Type", content_type)
        self.send_header("Content-Length", str(len(body)))
        if close:
            self.send_header("Connection", "close")
        self.end_headers()
        self.wfile.write(body)

    def log_message(self, format: str, *args: Any) -> None:  # noqa: A002
        return


@dataclass(slots=True)
class _Connection:
    waiting: bool  # on its client (True) or being served (False)
    since: float


class _Server(ThreadingHTTPServer):
    daemon_threads = True
    allow_reuse_address = True
    request_queue_size = 256

    def __init__(self, address: tuple[str, int], rpc: Rpc, limits: HttpLimits) -> None:
        self.rpc = rpc
        self.limits = limits
        self._lock = threading.Lock()
        self._connections: dict[socket.socket, _Connection] = {}
        super().__init__(address, _Handler)

    def process_request(self, request: Any, client_address: Any) -> None:
        with self._lock:
            full = len(self._connections) >= self.limits.max_connections
            victim = self._longest_waiting() if full else None
            if victim is not None:
                del self._connections[victim]
            if victim is not None or not full:
                self._connections[request] = _Connection(True, time.monotonic())
        if victim is not None:
            _hang_up(victim)
        elif full:
            self._busy(request)
            return
        super().process_request(request, client_address)

    def _longest_waiting(self) -> socket.socket | None:
        waiting = [(c.since, s) for s, c in self._connections.items() if c.waiting]
        return min(waiting, key=lambda pair: pair[0])[1] if waiting else None

    def _busy(self, request: socket.socket) -> None:
        refusal = Refused(
            LIMIT_EXCEEDED,
            Reason.BUSY,
            f"all {self.limits.max_connections} connections are being served; retry shortly",
            limit=self.limits.max_connections,
        )
        body = json.dumps({"jsonrpc": "2.0", "id": None, "error": refusal.to_json()}).encode()
        head = (
            "HTTP/1.1 503 Service Unavailable\r\nContent-Type: application/json\r\n"
            f"Content-Length: {len(body)}\r\nConnection: close\r\n\r\n"
        )
        try:
            request.setblocking(False)
            request.send(head.encode() + body)
        except OSError:
            pass
        self.shutdown_request(request)

    def waiting(self, sock: socket.socket) -> None:
        self._mark(sock, waiting=True)

    def working(self, sock: socket.socket) -> None:
        self._mark(sock, waiting=False)

    def _mark(self, sock: socket.socket, *, waiting: bool) -> None:
        with self._lock:
            connection = self._connections.get(sock)
            if connection is not None and connection.waiting != waiting:
                connection.waiting, connection.since = waiting, time.monotonic()

    def shutdown_request(self, request: Any) -> None:
        with self._lock:
            self._connections.pop(request, None)
        super().shutdown_request(request)

    def handle_error(self, request: Any, client_address: Any) -> None:
        log.debug("connection from %s ended with an error", client_address, exc_info=True)

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._connections)

    def hang_up_all(self) -> None:
        with self._lock:
            sockets = list(self._connections)
        for sock in sockets:
            _hang_up(sock)


def _hang_up(sock: socket.socket) -> None:
    """Wake the connection's thread (its read or write fails) so it ends."""
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass


class RpcServer:
    def __init__(self, host: str, port: int, rpc: Rpc, *, limits: HttpLimits | None = None) -> None:
        self._server = _Server((host, port), rpc, limits or HttpLimits())
        bound = self._server.server_address
        self.host = host
        self.port = int(bound[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="rpc-server", daemon=True
        )

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def connection_count(self) -> int:
        return self._server.connection_count

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        """Stop listening and hang up the open connections (a keep-alive client would
        otherwise stay served by a thread whose chain is about to close)."""
        self._server.shutdown()
        self._server.server_close()
        self._server.hang_up_all()
