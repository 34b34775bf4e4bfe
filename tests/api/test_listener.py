"""The API's listener (`api.listener`) closes connections that send no complete request
head in time, refuses an oversized head, and caps concurrent connections; over a real
socket against uvicorn configured as `api.serve` configures it."""

from __future__ import annotations

import select
import socket
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager

import httpx
import pytest
import uvicorn
from starlette.types import ASGIApp, Receive, Scope, Send

from medledger.domain.settings import ApiSettings
from medledger.web.listener import uvicorn_options


async def hello(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": b"hello"})


async def whoami(scope: Scope, receive: Receive, send: Send) -> None:
    if scope["type"] != "http":
        return
    await send({"type": "http.response.start", "status": 200, "headers": []})
    await send({"type": "http.response.body", "body": str(scope["client"][0]).encode()})


@pytest.fixture
def listener() -> Iterator[tuple[str, int]]:
    settings = ApiSettings(idle_timeout_seconds=1, max_connections=3, max_header_bytes=4096)
    with serving(hello, settings) as address:
        yield address


@contextmanager
def serving(app: ASGIApp, settings: ApiSettings) -> Iterator[tuple[str, int]]:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    config = uvicorn.Config(
        app,
        host="127.0.0.1",
        port=port,
        log_level="warning",
        lifespan="off",
        **uvicorn_options(settings),
    )
    server = uvicorn.Server(config)
    thread = threading.Thread(target=server.run, daemon=True)
    thread.start()
    deadline = time.monotonic() + 10
    while not server.started:
        assert time.monotonic() < deadline, "uvicorn did not start"
        time.sleep(0.02)
    try:
        yield "127.0.0.1", port
    finally:
        server.should_exit = True
        thread.join(10)


def closed_within(conn: socket.socket, seconds: float) -> float:
    """Seconds until the server closed `conn` (read EOF or reset); fails past `seconds`."""
    started = time.monotonic()
    conn.settimeout(seconds)
    try:
        while conn.recv(4096):
            pass
    except ConnectionResetError:
        pass
    return time.monotonic() - started


def test_a_connection_that_sends_nothing_is_closed_after_the_idle_timeout(
    listener: tuple[str, int],
) -> None:
    with socket.create_connection(listener) as conn:
        assert 0.5 < closed_within(conn, 5) < 3


def send_until_answered(conn: socket.socket, pieces: list[bytes], *, pause: float) -> int:
    """Send `pieces` one by one, `pause` apart, until the server answers or closes; the
    number of pieces sent."""
    for sent, piece in enumerate(pieces):
        if select.select([conn], [], [], 0)[0]:
            return sent
        conn.sendall(piece)
        time.sleep(pause)
    return len(pieces)


def test_a_request_head_dripped_slowly_is_cut_off(listener: tuple[str, int]) -> None:
    head = b"GET / HTTP/1.1\r\nHost: x\r\nX-Slow: " + b"a" * 100 + b"\r\n\r\n"
    with socket.create_connection(listener) as conn:
        started = time.monotonic()
        sent = send_until_answered(conn, [bytes([b]) for b in head], pause=0.05)
        assert sent < len(head)
        closed_within(conn, 5)
        assert time.monotonic() - started < 3  # the idle timeout is 1 s


def test_a_request_head_growing_past_the_limit_is_a_400(listener: tuple[str, int]) -> None:
    """h11 buffers at most `max_header_bytes` of a head still incomplete (a head that
    arrives whole in one read is bounded by the read size instead)."""
    pieces = [b"GET / HTTP/1.1\r\nHost: x\r\n"] + [b"X-Big: " + b"a" * 1024 + b"\r\n"] * 64
    with socket.create_connection(listener) as conn:
        assert send_until_answered(conn, pieces, pause=0.01) < len(pieces)
        conn.settimeout(5)
        assert conn.recv(4096).startswith(b"HTTP/1.1 400")


def test_requests_beyond_the_connection_cap_are_a_503(listener: tuple[str, int]) -> None:
    idle = [socket.create_connection(listener) for _ in range(3)]
    try:
        with socket.create_connection(listener) as conn:
            conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
            conn.settimeout(5)
            assert conn.recv(4096).startswith(b"HTTP/1.1 503")
    finally:
        for conn in idle:
            conn.close()
    time.sleep(0.2)
    with socket.create_connection(listener) as conn:
        conn.sendall(b"GET / HTTP/1.1\r\nHost: x\r\n\r\n")
        conn.settimeout(5)
        assert conn.recv(4096).startswith(b"HTTP/1.1 200")


def test_a_body_still_arriving_after_the_answer_is_not_read_for_nothing(
    listener: tuple[str, int],
) -> None:
    """The app answered without the body; a client dripping the rest is cut off at once,
    not kept alive by each byte."""
    with socket.create_connection(listener) as conn:
        conn.sendall(b"POST / HTTP/1.1\r\nHost: x\r\nContent-Length: 100000\r\n\r\n")
        conn.settimeout(5)
        assert conn.recv(4096).startswith(b"HTTP/1.1 200")
        started = time.monotonic()
        with pytest.raises(OSError):
            for _ in range(30):  # 3 s of drip
                conn.sendall(b"x")
                time.sleep(0.1)
                if select.select([conn], [], [], 0)[0] and not conn.recv(1):
                    raise ConnectionResetError("closed")
        assert time.monotonic() - started < 1


def test_x_forwarded_for_is_believed_only_from_the_configured_proxies() -> None:
    forged = {"X-Forwarded-For": "203.0.113.9"}
    with serving(whoami, ApiSettings()) as (host, port):  # none trusted: not even loopback
        assert httpx.get(f"http://{host}:{port}/", headers=forged).text == "127.0.0.1"
    trusted = ApiSettings(forwarded_allow_ips="127.0.0.1, 10.0.0.0/8")
    with serving(whoami, trusted) as (host, port):
        assert httpx.get(f"http://{host}:{port}/", headers=forged).text == "203.0.113.9"
