"""JSON-RPC over WebSocket (`node.ws`), with a real node and the `websockets` client:
newHeads and filtered logs notifications in go-ethereum's shape, unsubscribe, ordinary
calls on the same socket, and the bounds a hostile client meets (message size,
subscriptions, connections, origin, idle, a reader that never reads)."""

from __future__ import annotations

import json
import logging
import socket
import subprocess
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account
from eth_utils import keccak
from websockets.exceptions import ConnectionClosed, InvalidStatus
from websockets.sync.client import connect
from websockets.sync.connection import Connection

from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from medledger.node.ws import WsLimits
from medledger.sdk.model import Role
from tests.node.conftest import (
    REPO,
    NodeProcess,
    admin_account,
    free_port,
    sign,
    spawn_node,
    wait_receipt,
)

CAST = REPO / "node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
MEMBER_ADMITTED = "0x" + keccak(text="MemberAdmitted(address,uint8,string,address)").hex()


@dataclass
class WsNode:
    process: NodeProcess
    ws_url: str


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, node_config: NodeConfig) -> Iterator[WsNode]:
    root = tmp_path_factory.mktemp("ws")
    genesis = root / "genesis.json"
    node_config.save(genesis)
    port = free_port()
    process = spawn_node(root / "node", genesis, extra=("--ws-port", str(port)))
    yield WsNode(process, f"ws://127.0.0.1:{port}")
    process.stop()


def call(ws: Connection, method: str, *params: Any, rid: int = 1) -> dict[str, Any]:
    """Send a request; return its answer, with the notifications that came first in
    `ws.pending` (a list kept on the connection)."""
    ws.send(json.dumps({"jsonrpc": "2.0", "id": rid, "method": method, "params": list(params)}))
    while True:
        message = json.loads(ws.recv(timeout=30))
        if message.get("id") == rid and "method" not in message:
            return dict(message)
        pending(ws).append(message)


def pending(ws: Connection) -> list[dict[str, Any]]:
    if not hasattr(ws, "_test_pending"):
        ws._test_pending = []  # type: ignore[attr-defined]
    return ws._test_pending  # type: ignore[attr-defined, no-any-return]


def subscribe(ws: Connection, *params: Any) -> str:
    answer = call(ws, "eth_subscribe", *params)
    assert isinstance(answer["result"], str), answer
    return str(answer["result"])


def next_notification(ws: Connection, subscription: str) -> Any:
    """The next notification of `subscription` (others are kept in `pending`)."""
    queued = pending(ws)
    for message in list(queued):
        if message["params"]["subscription"] == subscription:
            queued.remove(message)
            return message["params"]["result"]
    while True:
        message = json.loads(ws.recv(timeout=30))
        assert message["jsonrpc"] == "2.0" and message["method"] == "eth_subscription", message
        if message["params"]["subscription"] == subscription:
            return message["params"]["result"]
        queued.append(message)


def fence(ws: Connection) -> list[dict[str, Any]]:
    """Every notification queued before now: those the node sent before answering."""
    call(ws, "eth_chainId", rid=999)
    queued = list(pending(ws))
    pending(ws).clear()
    return queued


def admit_raw(config: NodeConfig, nonce: int, *, name: str = "NMPA") -> str:
    from web3 import Web3

    from medledger.sdk.ledger import Ledger
    from tests.node.conftest import deployment_of

    admin = admin_account(config)
    partners = Ledger(Web3(), deployment_of(config), admin)._c["Partners"]
    member = Account.create().address
    data = partners.encode_abi("admit", [member, int(Role.REGULATOR), name])
    return sign(admin, config, nonce=nonce, to=partners.address, data=data, gas=2_000_000)


def admit(url: str, config: NodeConfig, *, name: str = "NMPA") -> dict[str, Any]:
    client = RpcClient(url)
    try:
        nonce = int(client.call("eth_getTransactionCount", admin_account(config).address), 16)
        tx_hash = client.call("eth_sendRawTransaction", admit_raw(config, nonce, name=name))
        return wait_receipt(client, tx_hash)
    finally:
        client.close()


# ---------------------------------------------------------------- notifications


def test_new_heads_and_filtered_logs_arrive_in_geths_shape(node, node_config):
    partners = node_config.contract_address("Partners").lower()
    with connect(node.ws_url) as ws:
        heads = subscribe(ws, "newHeads")
        admitted = subscribe(ws, "logs", {"address": partners, "topics": [MEMBER_ADMITTED]})
        elsewhere = subscribe(ws, "logs", {"address": node_config.contract_address("Items")})
        receipt = admit(node.process.url, node_config)
        number = int(receipt["blockNumber"], 16)
        head = next_notification(ws, heads)
        while int(head["number"], 16) < number:
            head = next_notification(ws, heads)
        client = RpcClient(node.process.url)
        block = client.call("eth_getBlockByNumber", hex(number), False)
        client.close()
        assert head["hash"] == block["hash"] == receipt["blockHash"]
        assert head["parentHash"] == block["parentHash"]
        assert "transactions" not in head
        log = next_notification(ws, admitted)
        assert log == receipt["logs"][0]
        assert log["address"] == partners and log["topics"][0] == MEMBER_ADMITTED
        later = fence(ws)
        assert all(m["params"]["subscription"] != elsewhere for m in later)


def test_ordinary_calls_and_errors_on_the_same_socket(node, node_config):
    with connect(node.ws_url) as ws:
        assert call(ws, "eth_chainId")["result"] == hex(node_config.chain_id)
        ws.send(json.dumps([{"jsonrpc": "2.0", "id": 7, "method": "net_version"}]))
        assert json.loads(ws.recv(timeout=10)) == [
            {"jsonrpc": "2.0", "id": 7, "result": str(node_config.chain_id)}
        ]
        assert call(ws, "eth_nope")["error"]["code"] == -32601
        refused = call(ws, "eth_subscribe", "pendingTransactions")["error"]
        assert refused["code"] == -32602 and "newHeads or logs" in refused["message"]
        by_hash = call(ws, "eth_subscribe", "logs", {"blockHash": "0x" + "11" * 32})["error"]
        assert by_hash["code"] == -32602 and "blockHash" in by_hash["message"]
        ranged = call(ws, "eth_subscribe", "logs", {"fromBlock": "not-a-block"})["error"]
        assert ranged["code"] == -32602
        bad = call(ws, "eth_subscribe", "logs", {"address": "0x12"})["error"]
        assert bad["code"] == -32602


def test_unsubscribe_stops_the_notifications(node, node_config):
    with connect(node.ws_url) as ws:
        kept = subscribe(ws, "newHeads")
        dropped = subscribe(ws, "newHeads")
        assert call(ws, "eth_unsubscribe", dropped)["result"] is True
        assert call(ws, "eth_unsubscribe", dropped)["result"] is False
        number = int(admit(node.process.url, node_config)["blockNumber"], 16)
        while int(next_notification(ws, kept)["number"], 16) < number:
            pass
        assert all(m["params"]["subscription"] != dropped for m in fence(ws))


def test_http_rpc_has_no_subscriptions(node):
    client = RpcClient(node.process.url)
    with pytest.raises(Exception, match="eth_subscribe"):
        client.call("eth_subscribe", "newHeads")
    client.close()


def test_cast_streams_logs_over_the_subscription(node, node_config):
    if not CAST.exists():
        pytest.skip("cast is installed by npm ci")
    partners = node_config.contract_address("Partners")
    args = [str(CAST), "logs", "--subscribe", "--rpc-url", node.ws_url, "--address", partners]
    cast = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    lines: list[str] = []
    reader = threading.Thread(target=lambda: lines.extend(cast.stdout or []), daemon=True)
    reader.start()
    sent: list[str] = []
    try:
        # admit until one is streamed: cast subscribes at some point after it starts
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and not any(h in line for h in sent for line in lines):
            assert cast.poll() is None, lines
            sent.append(admit(node.process.url, node_config)["transactionHash"])
            time.sleep(0.2)
    finally:
        cast.kill()
        cast.wait(10)
        reader.join(10)
        if cast.stdout is not None:
            cast.stdout.close()
    streamed = [h for h in sent if any(f"transactionHash: {h}" in line for line in lines)]
    assert streamed and streamed == sent[len(sent) - len(streamed) :], (sent, lines)


# ---------------------------------------------------------------- bounds


def test_a_message_past_the_size_bound_closes_with_1009(node):
    with connect(node.ws_url, max_size=None) as ws:
        ws.send("[" + " " * (8 * 1024 * 1024) + "]")
        with pytest.raises(ConnectionClosed) as closed:
            ws.recv(timeout=30)
    assert closed.value.rcvd is not None and closed.value.rcvd.code == 1009


def test_subscriptions_per_connection_are_bounded(node):
    with connect(node.ws_url) as ws:
        for _ in range(WsLimits().max_subscriptions):
            subscribe(ws, "newHeads")
        error = call(ws, "eth_subscribe", "newHeads")["error"]
        assert error["code"] == -32005
        assert error["data"] == {
            "reason": "too_many_subscriptions",
            "limit": WsLimits().max_subscriptions,
        }
        assert call(ws, "eth_blockNumber")["result"].startswith("0x")


def test_a_browser_origin_is_refused(node):
    with pytest.raises(InvalidStatus) as refused:
        connect(node.ws_url, origin="https://evil.example")  # type: ignore[arg-type]
    assert refused.value.response.status_code == 403


@pytest.fixture
def bounded(inprocess, node_config):
    """A node in this process with small WebSocket bounds."""

    def _start(limits: WsLimits) -> Any:
        from medledger.node.app import Node

        config = replace(node_config, ws_port=0)
        node = inprocess(config, ws_limits=limits)
        assert isinstance(node, Node) and node.ws is not None
        return node

    return _start


def test_connections_past_the_cap_are_answered_503(bounded):
    node = bounded(WsLimits(max_connections=2))
    with connect(node.ws_url), connect(node.ws_url):
        deadline = time.monotonic() + 10  # both past their handshake, being served
        while node.ws.connection_count < 2 and time.monotonic() < deadline:
            time.sleep(0.01)
        with pytest.raises(InvalidStatus) as refused:
            connect(node.ws_url)
        assert refused.value.response.status_code == 503
    deadline = time.monotonic() + 10
    while node.ws.connection_count and time.monotonic() < deadline:
        time.sleep(0.05)
    with connect(node.ws_url) as ws:  # the slots are free again
        assert call(ws, "eth_blockNumber")["result"] == "0x0"


def test_an_idle_connection_is_closed_but_a_subscribed_one_stays(bounded):
    node = bounded(WsLimits(idle_timeout=0.5))
    with connect(node.ws_url) as idle, connect(node.ws_url) as subscribed:
        subscribe(subscribed, "newHeads")
        with pytest.raises(ConnectionClosed) as closed:
            idle.recv(timeout=30)
        assert closed.value.rcvd is not None and closed.value.rcvd.code == 1000
        time.sleep(1.0)
        assert call(subscribed, "eth_blockNumber")["result"] == "0x0"


def test_a_reader_that_never_reads_is_dropped_and_blocks_go_on(bounded, node_config, caplog):
    limits = WsLimits(max_queued=64 * 1024, send_buffer=16 * 1024, write_timeout=2.0)
    node = bounded(limits)
    caplog.set_level(logging.INFO, logger="medledger.node.ws")
    stuck_socket = socket.socket()
    stuck_socket.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, 4096)  # before the window
    stuck_socket.connect(("127.0.0.1", node.ws.port))
    # max_queue=1: the client library stops reading the socket once a message waits
    stuck = connect(node.ws_url, sock=stuck_socket, max_queue=1)
    client = RpcClient(node.url)
    nonce = 0
    with stuck, connect(node.ws_url, max_queue=None) as reader:
        subscribe(stuck, "logs", {})
        logs = subscribe(reader, "logs", {})  # as much to read, and read
        heads = subscribe(reader, "newHeads")
        rounds = 0
        while node.ws.connection_count > 1 and rounds < 60:
            # a block of ~50 kB of notifications, less than the 64 kB a queue may hold
            raws = [admit_raw(node_config, nonce + n, name="x" * 1500) for n in range(14)]
            hashes = [client.call("eth_sendRawTransaction", raw) for raw in raws]
            nonce, rounds = nonce + len(raws), rounds + 1
            number = int(wait_receipt(client, hashes[-1])["blockNumber"], 16)
            while int(next_notification(reader, heads)["number"], 16) < number:
                pass
            time.sleep(0.2)  # the stuck connection's sender fills the kernel's buffers
        assert node.ws.connection_count == 1, "the stuck reader was never dropped"
        assert rounds >= 2  # it took the queue filling up, not one block
        assert "bytes of notifications unread" in caplog.text
        # the client that reads got every log of those blocks
        read = [m for m in fence(reader) if m["params"]["subscription"] == logs]
        assert len(read) == nonce
        # the node still makes blocks and the reader still hears of them
        more = admit(node.url, node_config)
        while int(next_notification(reader, heads)["number"], 16) < int(more["blockNumber"], 16):
            pass
    client.close()
    stuck_socket.close()


def test_the_banner_names_the_ws_endpoint(node):
    assert f"ws            {node.ws_url}" in Path(node.process.log).read_text()


def test_a_follower_announces_the_blocks_it_verified(inprocess, node_config):
    sequencer = inprocess(node_config, "sequencer")
    follower = inprocess(node_config, "follower", follow_url=sequencer.url, ws_port=0)
    with connect(follower.ws_url) as ws:
        heads = subscribe(ws, "newHeads")
        receipt = admit(sequencer.url, node_config)
        head = next_notification(ws, heads)
        while int(head["number"], 16) < int(receipt["blockNumber"], 16):
            head = next_notification(ws, heads)
        assert head["hash"] == receipt["blockHash"]
