"""One webhook request: the signed POST and what came back.

Headers: `MedLedger-Event-Id` (the event's stable id: receivers dedupe on it),
`MedLedger-Timestamp` (unix seconds) and `MedLedger-Signature: t=<unix>,v1=<hex>` where
the hex is HMAC-SHA256 keyed with the subscription's secret over `f"{t}.{raw body}"`. A
receiver recomputes it and refuses a timestamp more than `REPLAY_WINDOW` seconds off.

Every request has a 3 s connect and a 10 s total timeout, follows no redirect, uses no
proxy, and reads at most `MAX_RESPONSE` bytes of the answer. Connections are kept alive
(`Sender`): an event costs one request on an open connection, not a handshake.
"""

from __future__ import annotations

import hashlib
import hmac
import http.client
import socket
import ssl
import threading
import time
from dataclasses import dataclass
from typing import Final
from urllib.parse import SplitResult, urlsplit

__all__ = [
    "MAX_RESPONSE",
    "REPLAY_WINDOW",
    "Outcome",
    "Sender",
    "sign",
    "signature_header",
    "verify",
]

REPLAY_WINDOW: Final = 300
MAX_RESPONSE: Final = 4096
CONNECT_TIMEOUT: Final = 3.0
TOTAL_TIMEOUT: Final = 10.0
USER_AGENT: Final = "MedLedger-Webhooks/1"


def sign(secret: str, timestamp: int, body: bytes) -> str:
    """The v1 signature: hex HMAC-SHA256(secret, f"{timestamp}.{body}")."""
    message = str(timestamp).encode() + b"." + body
    return hmac.new(secret.encode(), message, hashlib.sha256).hexdigest()


def signature_header(secret: str, timestamp: int, body: bytes) -> str:
    return f"t={timestamp},v1={sign(secret, timestamp, body)}"


def verify(secret: str, header: str, body: bytes, *, now: int | None = None) -> bool:
    """What a receiver does (the README's verifier): parse, check the window, compare."""
    fields = dict(p.split("=", 1) for p in header.split(",") if "=" in p)
    try:
        timestamp = int(fields["t"])
    except (KeyError, ValueError):
        return False
    if abs((int(time.time()) if now is None else now) - timestamp) > REPLAY_WINDOW:
        return False
    return hmac.compare_digest(fields.get("v1", ""), sign(secret, timestamp, body))


@dataclass(frozen=True, slots=True)
class Outcome:
    """A 2xx (`ok`), or the status (None: no answer) and a short error."""

    ok: bool
    status: int | None
    error: str


class Sender:
    """Keep-alive connections for the worker's POSTs: one per origin per thread (the
    worker's pool threads each carry one subscription at a time), `http.client` under a
    hard deadline (a receiver trickling its answer is cut off at `TOTAL_TIMEOUT`)."""

    def __init__(self) -> None:
        self._local = threading.local()
        self._all: list[http.client.HTTPConnection] = []
        self._lock = threading.Lock()

    def _connection(self, parts: SplitResult) -> tuple[http.client.HTTPConnection, bool]:
        """The thread's connection to the URL's origin, and whether it was used before."""
        conns: dict[tuple[str, str, int | None], http.client.HTTPConnection]
        conns = self._local.__dict__.setdefault("conns", {})
        key = (parts.scheme, parts.hostname or "", parts.port)
        conn = conns.get(key)
        if conn is not None and conn.sock is not None:
            return conn, True
        if parts.scheme == "https":
            conn = http.client.HTTPSConnection(
                key[1], key[2], timeout=CONNECT_TIMEOUT, context=ssl.create_default_context()
            )
        else:
            conn = http.client.HTTPConnection(key[1], key[2], timeout=CONNECT_TIMEOUT)
        conns[key] = conn
        with self._lock:
            self._all.append(conn)
        return conn, False

    def _exchange(
        self, conn: http.client.HTTPConnection, target: str, body: bytes, headers: dict[str, str]
    ) -> int:
        if conn.sock is None:
            conn.connect()
            connected: socket.socket = conn.sock  # type: ignore[assignment]  # set by connect
            connected.settimeout(TOTAL_TIMEOUT)
        expired = threading.Event()
        deadline = threading.Timer(TOTAL_TIMEOUT, _abort, (conn, expired))
        deadline.daemon = True
        deadline.start()
        try:
            conn.request("POST", target, body=body, headers=headers)
            response = conn.getresponse()
            response.read(MAX_RESPONSE)
            if not response.isclosed():  # more than we read: this connection is spent
                conn.close()
        finally:
            deadline.cancel()
        if expired.is_set():
            # http.client takes the shut-down socket's EOF for the end of a trickled
            # answer: whatever status it parsed was not the receiver's whole answer.
            conn.close()
            raise TimeoutError(f"no complete answer within {TOTAL_TIMEOUT} s")
        return int(response.status)

    def post(self, url: str, *, event_id: str, secret: str, body: bytes) -> Outcome:
        """POST one signed event; never raises for the receiver's faults."""
        timestamp = int(time.time())
        headers = {
            "Content-Type": "application/json",
            "User-Agent": USER_AGENT,
            "MedLedger-Event-Id": event_id,
            "MedLedger-Timestamp": str(timestamp),
            "MedLedger-Signature": signature_header(secret, timestamp, body),
        }
        parts = urlsplit(url)
        target = (parts.path or "/") + (f"?{parts.query}" if parts.query else "")
        conn, reused = self._connection(parts)
        try:
            try:
                status = self._exchange(conn, target, body, headers)
            except _STALE:
                if not reused:
                    raise
                conn.close()  # the receiver closed an idle keep-alive connection: anew
                status = self._exchange(conn, target, body, headers)
        except (OSError, http.client.HTTPException, ValueError) as exc:
            conn.close()
            return Outcome(False, None, f"{type(exc).__name__}: {exc}"[:500])
        if 200 <= status < 300:
            return Outcome(True, status, "")
        return Outcome(False, status, f"HTTP {status}")

    def close(self) -> None:
        with self._lock:
            conns, self._all = self._all, []
        for conn in conns:
            conn.close()


_STALE = (http.client.RemoteDisconnected, ConnectionResetError, BrokenPipeError)


def _abort(conn: http.client.HTTPConnection, expired: threading.Event) -> None:
    expired.set()
    sock = conn.sock
    if sock is not None:
        try:
            sock.shutdown(socket.SHUT_RDWR)  # wakes the blocked read with an error
        except OSError:
            pass
