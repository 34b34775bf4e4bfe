"""The JSON-RPC transport bounds what a client controls: the body's shape and size, its
headers, the time each phase of a request may take and the number of connections. Each
refusal is a 4xx (or a JSON-RPC error) with a `data.reason`, answered at once."""

from __future__ import annotations

import json
import socket
import threading
import time
from collections.abc import Callable, Iterator
from dataclasses import replace

import httpx
import pytest

from medledger.node.app import Node
from medledger.node.config import NodeConfig
from medledger.node.server import HttpLimits, RpcServer

SHORT = HttpLimits(
    max_connections=8, idle_timeout=0.6, header_timeout=0.6, body_timeout=0.6, write_timeout=2
)
CHAIN_ID = {"jsonrpc": "2.0", "id": 1, "method": "eth_chainId", "params": []}


@pytest.fixture
def node(inprocess: Callable[..., Node], node_config: NodeConfig) -> Node:
    return inprocess(node_config)


@pytest.fixture
def short(node: Node) -> Iterator[RpcServer]:
    """A second server on the node's RPC with sub-second timeouts and 8 connections."""
    server = RpcServer("127.0.0.1", 0, node.rpc, limits=SHORT)
    server.start()
    yield server
    server.stop()


def _exchange(port: int, data: bytes, *, wait: float = 5.0) -> tuple[float, bytes]:
    """Send `data` on a new connection, read until the server closes it: (seconds, reply)."""
    with socket.create_connection(("127.0.0.1", port)) as sock:
        sock.settimeout(wait)
        started = time.monotonic()
        sock.sendall(data)
        reply = b""
        while chunk := sock.recv(65536):
            reply += chunk
        return time.monotonic() - started, reply


def _status_and_error(reply: bytes) -> tuple[int, dict[str, object]]:
    head, _, body = reply.partition(b"\r\n\r\n")
    status = int(head.split(b" ", 2)[1])
    error: dict[str, object] = json.loads(body)["error"]
    return status, error


def _post_head(**headers: str) -> bytes:
    lines = [
        "POST / HTTP/1.1",
        "Host: node",
        *(f"{k.replace('_', '-')}: {v}" for k, v in headers.items()),
    ]
    return ("\r\n".join(lines) + "\r\n\r\n").encode()


def test_a_bracket_bomb_is_refused_as_too_deep_and_the_node_keeps_serving(node: Node) -> None:
    bomb = b"[" * 100_000 + b"]" * 100_000
    answer = httpx.post(node.url, content=bomb, headers={"Content-Type": "application/json"})
    assert answer.status_code == 200
    error = answer.json()["error"]
    assert error["code"] == -32700
    assert error["data"] == {"reason": "too_deep"}
    assert httpx.post(node.url, json=CHAIN_ID).json()["result"] == hex(node.config.chain_id)


@pytest.mark.parametrize(
    "content_type",
    ["text/plain", "application/x-www-form-urlencoded", "multipart/form-data; boundary=x", None],
)
def test_a_post_that_is_not_declared_json_is_refused_with_415(
    node: Node, content_type: str | None
) -> None:
    headers = {} if content_type is None else {"Content-Type": content_type}
    answer = httpx.post(node.url, content=json.dumps(CHAIN_ID).encode(), headers=headers)
    assert answer.status_code == 415
    assert answer.json()["error"]["data"] == {"reason": "content_type"}
    assert "access-control-allow-origin" not in answer.headers


def test_json_with_a_charset_is_served(node: Node) -> None:
    answer = httpx.post(
        node.url,
        content=json.dumps(CHAIN_ID).encode(),
        headers={"Content-Type": "application/json; charset=utf-8"},
    )
    assert answer.json()["result"] == hex(node.config.chain_id)


def test_a_cors_preflight_is_refused_without_cors_headers(node: Node) -> None:
    answer = httpx.options(
        node.url,
        headers={"Origin": "http://evil.example", "Access-Control-Request-Method": "POST"},
    )
    assert answer.status_code == 405
    assert not any(name.startswith("access-control-") for name in answer.headers)


@pytest.mark.parametrize(
    ("length", "status"),
    [("-1", 400), ("abc", 400), ("1e3", 400), ("12, 12", 400), (None, 411), ("9999999999", 413)],
)
def test_a_bad_content_length_is_refused_at_once(
    node: Node, length: str | None, status: int
) -> None:
    headers = {"Content_Type": "application/json"}
    if length is not None:
        headers["Content_Length"] = length
    assert node.server is not None
    seconds, reply = _exchange(node.server.port, _post_head(**headers))
    assert seconds < 2
    got, error = _status_and_error(reply)
    assert got == status
    assert error["data"]["reason"] in ("content_length", "body_too_large")  # type: ignore[index]


def test_a_chunked_body_is_refused(node: Node) -> None:
    assert node.server is not None
    head = _post_head(Content_Type="application/json", Transfer_Encoding="chunked")
    _, reply = _exchange(node.server.port, head + b"0\r\n\r\n")
    assert _status_and_error(reply)[0] == 411


def test_an_idle_connection_is_closed_after_the_idle_timeout(short: RpcServer) -> None:
    seconds, reply = _exchange(short.port, b"")
    assert reply == b""
    assert SHORT.idle_timeout <= seconds < SHORT.idle_timeout + 1


def test_headers_sent_a_byte_at_a_time_are_cut_at_the_header_timeout(short: RpcServer) -> None:
    with socket.create_connection(("127.0.0.1", short.port)) as sock:
        started = time.monotonic()
        sock.settimeout(0.1)
        closed = False
        for byte in b"POST / HTTP/1.1\r\nHost: node\r\nX-Slow: " + b"a" * 100:
            try:
                sock.send(bytes([byte]))
                if sock.recv(1) == b"":
                    closed = True
                    break
            except TimeoutError:
                continue
            except OSError:
                closed = True
                break
        assert closed
        assert time.monotonic() - started < SHORT.header_timeout + 1


def test_a_body_that_does_not_arrive_is_cut_at_the_body_timeout(short: RpcServer) -> None:
    head = _post_head(Content_Type="application/json", Content_Length="100")
    seconds, reply = _exchange(short.port, head + b'{"jsonrpc"')
    assert reply == b""
    assert seconds < SHORT.body_timeout + 1


def test_past_the_connection_cap_the_longest_waiting_connection_makes_room(
    short: RpcServer,
) -> None:
    idle = [socket.create_connection(("127.0.0.1", short.port)) for _ in range(3 * 8)]
    try:
        time.sleep(0.2)
        assert short.connection_count <= SHORT.max_connections
        answer = httpx.post(short.url, json=CHAIN_ID)
        assert answer.json()["result"] == "0x539"
        closed = 0
        for sock in idle[:8]:  # the oldest were closed for the newer ones
            sock.settimeout(1)
            try:
                closed += sock.recv(1) == b""
            except OSError:
                closed += 1
        assert closed == 8
    finally:
        for sock in idle:
            sock.close()


def test_when_every_connection_is_being_served_a_new_one_gets_503(
    inprocess: Callable[..., Node], node_config: NodeConfig
) -> None:
    # Two calls that loop until their 2 s budget is spent hold both connections.
    node = inprocess(
        replace(node_config, max_tx_gas=10**9, call_time_budget_ms=2_000, max_concurrent_calls=2)
    )
    server = RpcServer("127.0.0.1", 0, node.rpc, limits=replace(SHORT, max_connections=2))
    server.start()
    loop = {"jsonrpc": "2.0", "id": 1, "method": "eth_call",
            "params": [{"data": "0x5b600056"}, "latest"]}  # fmt: skip
    answers: list[dict[str, object]] = []
    threads = [
        threading.Thread(target=lambda: answers.append(httpx.post(server.url, json=loop).json()))
        for _ in range(2)
    ]
    try:
        for thread in threads:
            thread.start()
        time.sleep(0.7)
        busy = httpx.post(server.url, json=CHAIN_ID)
        assert busy.status_code == 503
        assert busy.json()["error"]["data"] == {"reason": "busy", "limit": 2}
        for thread in threads:
            thread.join(10)
        assert [a["error"]["data"]["reason"] for a in answers] == ["call_time"] * 2  # type: ignore[index]
        assert httpx.post(server.url, json=CHAIN_ID).json()["result"] == "0x539"
    finally:
        server.stop()
