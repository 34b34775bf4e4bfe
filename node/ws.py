"""JSON-RPC over WebSocket, as go-ethereum serves it: every method of the HTTP RPC, plus
`eth_subscribe("newHeads")`, `eth_subscribe("logs", {address, topics})` and
`eth_unsubscribe(id)`. As in go-ethereum, a logs filter's fromBlock and toBlock are checked
but not applied: notifications start with the next block. A notification is
`{"jsonrpc":"2.0","method":"eth_subscription","params":{"subscription":id,"result":...}}`:
one per new block for newHeads (its header), one per matching log for logs.

Everything a client controls is bounded (`WsLimits`):

- connections: at most `max_connections`; the next handshake is answered 503 (one that
  raced past that check is closed with 1013 right after it).
- origin: a handshake carrying an `Origin` header (every browser sends one) is refused 403,
  as the HTTP RPC serves no cross-origin request.
- a message: at most `max_message` bytes (the connection is closed with 1009), parsed
  under the HTTP RPC's bounds (`node.rpc`).
- subscriptions: at most `max_subscriptions` per connection (error -32005, reason
  `too_many_subscriptions`).
- idle: a connection with no subscription that sends nothing for `idle_timeout` is closed
  (1000); pings close a peer that stopped answering.
- a slow reader: what waits to be sent to a connection is bounded by `max_queued` bytes. A
  notification past it drops the connection (close code 1008), so block production never
  waits on a client; an answer past it waits (the connection's next request is not read
  meanwhile) up to `write_timeout`, then the connection is dropped the same way.
"""

from __future__ import annotations

import json
import logging
import os
import socket
import threading
from collections import deque
from dataclasses import dataclass
from http import HTTPStatus
from typing import Any

from websockets.exceptions import ConnectionClosed
from websockets.http11 import Request, Response
from websockets.sync.server import Server, ServerConnection, serve

from medledger.node.chain import ChainView
from medledger.node.errors import INVALID_PARAMS, LIMIT_EXCEEDED, Reason, Refused, RpcError
from medledger.node.params import log_filter
from medledger.node.records import LogFilter
from medledger.node.rpc import MAX_BODY_BYTES, MAX_DEPTH, MAX_ITEMS, Rpc
from medledger.node.ws_feed import NewBlock, WatchHeads
from medledger.sdk import bounded_json

__all__ = ["WsLimits", "WsServer"]

log = logging.getLogger("medledger.node.ws")
CLOSE_TOO_SLOW = 1008  # policy violation: the client does not take its notifications
CLOSE_TRY_AGAIN = 1013
# The library logs every refused handshake (a foreign Origin, a port scan) as an error with
# a traceback; what matters is logged here.
_quiet = logging.getLogger("medledger.node.ws.protocol")
_quiet.setLevel(logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class WsLimits:
    max_connections: int = 256
    max_message: int = MAX_BODY_BYTES
    max_subscriptions: int = 128
    idle_timeout: float = 60.0  # seconds, without a subscription
    max_queued: int = 16 * 1024 * 1024  # bytes waiting to be sent to one connection
    write_timeout: float = 30.0
    send_buffer: int = 256 * 1024  # the kernel's send buffer of each connection


@dataclass(frozen=True, slots=True)
class _Subscription:
    id: str
    kind: str  # "newHeads" or "logs"
    filter: LogFilter | None


class _Session:
    """One connection: its subscriptions and what waits to be sent to it, in order."""

    def __init__(self, conn: ServerConnection, limits: WsLimits) -> None:
        self.conn = conn
        self.limits = limits
        self.subscriptions: dict[str, _Subscription] = {}
        self._out: deque[str] = deque()
        self._queued = 0
        self._dropped = False
        self._cond = threading.Condition()
        self._sender = threading.Thread(target=self._send_loop, name="ws-send", daemon=True)
        self._sender.start()

    def notify(self, messages: list[str]) -> None:
        """Queue notifications; never blocks. Past `max_queued`, drop the connection."""
        with self._cond:
            size = sum(len(m) for m in messages)
            if self._dropped:
                return
            if self._queued + size > self.limits.max_queued:
                self._drop(f"more than {self.limits.max_queued:,} bytes of notifications unread")
                return
            self._out.extend(messages)
            self._queued += size
            self._cond.notify_all()

    def reply(self, message: str, subscribe: _Subscription | None = None) -> None:
        """Queue an answer (registering `subscribe` first, atomically, so its notifications
        follow the answer); waits while the queue is full, up to `write_timeout`."""
        with self._cond:
            room = self._cond.wait_for(
                lambda: self._dropped or self._queued < self.limits.max_queued,
                timeout=self.limits.write_timeout,
            )
            if self._dropped:
                return
            if not room:
                self._drop(f"answers not taken within {self.limits.write_timeout:.0f} s")
                return
            if subscribe is not None:
                self.subscriptions[subscribe.id] = subscribe
            self._out.append(message)
            self._queued += len(message)
            self._cond.notify_all()

    def unsubscribe(self, subscription: str) -> bool:
        with self._cond:
            return self.subscriptions.pop(subscription, None) is not None

    def end(self) -> None:
        with self._cond:
            self._dropped = True
            self.subscriptions.clear()
            self._cond.notify_all()

    def _drop(self, why: str) -> None:
        """Close with `CLOSE_TOO_SLOW` from a thread of its own (the close frame may never
        be taken), and shut the socket down after `write_timeout` whatever happens."""
        self._dropped = True
        self.subscriptions.clear()
        self._out.clear()
        self._cond.notify_all()
        log.info("dropping a WebSocket client: %s", why)
        threading.Thread(target=self._close, args=(why,), daemon=True).start()
        timer = threading.Timer(self.limits.write_timeout, _hang_up, args=(self.conn.socket,))
        timer.daemon = True
        timer.start()

    def _close(self, why: str) -> None:
        try:
            self.conn.close(CLOSE_TOO_SLOW, why[:120])
        except Exception:  # the socket may already be gone
            _hang_up(self.conn.socket)

    def _send_loop(self) -> None:
        while True:
            with self._cond:
                self._cond.wait_for(lambda: self._dropped or bool(self._out))
                if self._dropped:
                    return
                message = self._out.popleft()
            try:
                self.conn.send(message)
            except (ConnectionClosed, OSError):
                self.end()
                return
            with self._cond:
                self._queued -= len(message)
                self._cond.notify_all()


class WsServer:
    """Serves `rpc` and the subscriptions on `host:port` (0: any free port)."""

    def __init__(
        self,
        host: str,
        port: int,
        rpc: Rpc,
        chain: ChainView,
        *,
        limits: WsLimits | None = None,
    ) -> None:
        self.rpc = rpc
        self.limits = limits = limits or WsLimits()
        self._lock = threading.Lock()
        self._sessions: set[_Session] = set()
        self._server: Server = serve(
            self._handle,
            host,
            port,
            origins=[None],
            max_size=limits.max_message,
            process_request=self._admit,
            ping_interval=20,
            ping_timeout=20,
            close_timeout=5,
            logger=_quiet,
        )
        self.host = host
        self.port = int(self._server.socket.getsockname()[1])
        self._feed = WatchHeads(
            chain, self._deliver, self._wants_logs, max_logs=rpc.config.max_log_results
        )
        self._thread = threading.Thread(
            target=self._server.serve_forever, name="ws-server", daemon=True
        )

    @property
    def url(self) -> str:
        return f"ws://{self.host}:{self.port}"

    @property
    def connection_count(self) -> int:
        with self._lock:
            return len(self._sessions)

    def start(self) -> None:
        self._feed.start()
        self._thread.start()

    def stop(self) -> None:
        self._feed.stop()
        self._server.shutdown()
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            session.end()
            _hang_up(session.conn.socket)

    # ------------------------------------------------------------ connections

    def _admit(self, conn: ServerConnection, request: Request) -> Response | None:
        """Answer 503 at the cap, before the upgrade (`_handle` enforces it exactly)."""
        with self._lock:
            if len(self._sessions) < self.limits.max_connections:
                return None
        return conn.respond(HTTPStatus.SERVICE_UNAVAILABLE, self._full + "\n")

    @property
    def _full(self) -> str:
        return f"all {self.limits.max_connections} WebSocket connections are in use; retry shortly"

    def _handle(self, conn: ServerConnection) -> None:
        conn.socket.setsockopt(socket.SOL_SOCKET, socket.SO_SNDBUF, self.limits.send_buffer)
        session = _Session(conn, self.limits)
        with self._lock:
            admitted = len(self._sessions) < self.limits.max_connections
            if admitted:
                self._sessions.add(session)
        try:
            if admitted:
                self._serve(session)
            else:
                conn.close(CLOSE_TRY_AGAIN, self._full)
        finally:
            session.end()
            with self._lock:
                self._sessions.discard(session)

    def _serve(self, session: _Session) -> None:
        conn = session.conn
        while True:
            try:
                message = conn.recv(timeout=self.limits.idle_timeout)
            except TimeoutError:
                if session.subscriptions:
                    continue
                conn.close(1000, f"idle for {self.limits.idle_timeout:.0f} s")
                return
            except ConnectionClosed:
                return
            body = message.encode() if isinstance(message, str) else message
            answer = self._answer(session, body)
            if answer is not None:
                session.reply(*answer)

    def _answer(self, session: _Session, body: bytes) -> tuple[str, _Subscription | None] | None:
        try:
            request = bounded_json.loads(
                body, max_bytes=self.limits.max_message, max_depth=MAX_DEPTH, max_items=MAX_ITEMS
            )
        except bounded_json.BoundedJsonError:
            request = None  # `Rpc.handle` answers it with the reason
        method = request.get("method") if isinstance(request, dict) else None
        if method not in ("eth_subscribe", "eth_unsubscribe"):
            answer = self.rpc.handle(body)
            return None if answer is None else (answer.decode(), None)
        assert isinstance(request, dict)
        rid = request.get("id")
        params = request.get("params", [])
        subscription = None
        try:
            if not isinstance(params, list):
                raise RpcError(INVALID_PARAMS, "params must be an array")
            if method == "eth_subscribe":
                subscription = self._subscription(session, params)
                result: Any = subscription.id
            else:
                result = self._unsubscribe(session, params)
        except RpcError as exc:
            return _dumps({"jsonrpc": "2.0", "id": rid, "error": exc.to_json()}), None
        return _dumps({"jsonrpc": "2.0", "id": rid, "result": result}), subscription

    def _subscription(self, session: _Session, params: list[Any]) -> _Subscription:
        if not params or params[0] not in ("newHeads", "logs"):
            shown = json.dumps(params[0] if params else None)[:40]
            raise RpcError(INVALID_PARAMS, f"no such subscription {shown}: use newHeads or logs")
        if len(session.subscriptions) >= self.limits.max_subscriptions:
            raise Refused(
                LIMIT_EXCEEDED,
                Reason.TOO_MANY_SUBSCRIPTIONS,
                f"a connection holds at most {self.limits.max_subscriptions} subscriptions",
                limit=self.limits.max_subscriptions,
            )
        kind = params[0]
        criteria: Any = params[1] if len(params) > 1 else {}
        if kind == "newHeads":
            if len(params) > 1:
                raise RpcError(INVALID_PARAMS, "newHeads takes no filter")
            return _Subscription("0x" + os.urandom(16).hex(), kind, None)
        if isinstance(criteria, dict) and criteria.get("blockHash") is not None:
            raise RpcError(INVALID_PARAMS, "a logs subscription cannot name a blockHash")
        return _Subscription("0x" + os.urandom(16).hex(), kind, log_filter(criteria).filter)

    def _unsubscribe(self, session: _Session, params: list[Any]) -> bool:
        if len(params) != 1 or not isinstance(params[0], str):
            raise RpcError(INVALID_PARAMS, "eth_unsubscribe takes one subscription id")
        return session.unsubscribe(params[0])

    # ------------------------------------------------------------ notifications

    def _wants_logs(self) -> bool:
        with self._lock:
            sessions = list(self._sessions)
        return any(s.kind == "logs" for x in sessions for s in list(x.subscriptions.values()))

    def _deliver(self, block: NewBlock) -> None:
        with self._lock:
            sessions = list(self._sessions)
        for session in sessions:
            messages: list[str] = []
            for sub in list(session.subscriptions.values()):
                if sub.kind == "newHeads":
                    messages.append(_notification(sub.id, block.header))
                else:
                    assert sub.filter is not None
                    matched = (lg for lg in block.logs if sub.filter.matches(lg))
                    messages.extend(_notification(sub.id, lg) for lg in matched)
            if messages:
                session.notify(messages)


def _notification(subscription: str, result: Any) -> str:
    params = {"subscription": subscription, "result": result}
    return _dumps({"jsonrpc": "2.0", "method": "eth_subscription", "params": params})


def _dumps(value: Any) -> str:
    return json.dumps(value, separators=(",", ":"))


def _hang_up(sock: socket.socket) -> None:
    try:
        sock.shutdown(socket.SHUT_RDWR)
    except OSError:
        pass
