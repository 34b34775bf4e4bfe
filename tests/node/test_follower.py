"""The regulator's follower: it catches up from zero with identical roots, serves reads,
refuses writes, and stops at the first block whose transactions, state root or seal do not
check out (fed through a tampering HTTP proxy in front of the real sequencer)."""

from __future__ import annotations

import json
import threading
import time
import urllib.request
from collections.abc import Callable, Iterator
from dataclasses import replace
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from pathlib import Path
from typing import Any

import pytest
import rlp
from eth_account import Account
from eth_utils import keccak

from medledger.node.chain import Chain
from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from medledger.node.errors import RpcError
from medledger.node.follower import Follower
from medledger.node.seal import Sealer
from tests.node.conftest import (
    NodeProcess,
    admin_account,
    sign,
    spawn_node,
    wait_receipt,
)

Tamper = Callable[[str, Any], Any]


def _fill(url: str, config: NodeConfig, count: int) -> int:
    """Send `count` admin transactions; returns the head block number afterwards."""
    client = RpcClient(url)
    admin = admin_account(config)
    nonce = int(client.call("eth_getTransactionCount", admin.address, "pending"), 16)
    last = None
    for i in range(count):
        last = client.call(
            "eth_sendRawTransaction",
            sign(admin, config, nonce=nonce + i, to=Account.create().address, value=0),
        )
        if i % 3 == 2:
            wait_receipt(client, last)
    assert last is not None
    wait_receipt(client, last)
    head = int(client.call("eth_blockNumber"), 16)
    client.close()
    return head


@pytest.fixture(scope="module")
def sequencer(
    tmp_path_factory: pytest.TempPathFactory, genesis_file: Path, node_config: NodeConfig
) -> Iterator[NodeProcess]:
    node = spawn_node(tmp_path_factory.mktemp("fseq") / "node", genesis_file)
    _fill(node.url, node_config, 12)
    yield node
    node.stop()


class TamperingProxy:
    """Forwards JSON-RPC to the sequencer and lets a test rewrite answers for one block."""

    def __init__(self, upstream: str, tamper: Tamper) -> None:
        proxy = self

        class Handler(BaseHTTPRequestHandler):
            protocol_version = "HTTP/1.1"

            def do_POST(self) -> None:  # noqa: N802
                body = self.rfile.read(int(self.headers["Content-Length"]))
                request = urllib.request.Request(
                    upstream, body, {"Content-Type": "application/json"}
                )
                with urllib.request.urlopen(request) as response:
                    answer = json.loads(response.read())
                calls = json.loads(body)
                if isinstance(calls, list):
                    by_id = {c["id"]: c for c in calls}
                    for a in answer:
                        proxy._rewrite(by_id[a["id"]], a)
                else:
                    proxy._rewrite(calls, answer)
                out = json.dumps(answer).encode()
                self.send_response(200)
                self.send_header("Content-Type", "application/json")
                self.send_header("Content-Length", str(len(out)))
                self.end_headers()
                self.wfile.write(out)

            def log_message(self, *args: Any) -> None:
                return

        self.tamper = tamper
        self.server = ThreadingHTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}"
        self.thread = threading.Thread(target=self.server.serve_forever, daemon=True)
        self.thread.start()

    def _rewrite(self, call: dict[str, Any], answer: dict[str, Any]) -> None:
        if "result" in answer and call["method"] in ("debug_getRawBlock", "medledger_getSeal"):
            answer["result"] = self.tamper(call["method"], call["params"][0], answer["result"])

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


def _hex(data: bytes) -> str:
    return "0x" + data.hex()


def _block_fields(raw_hex: str) -> list[Any]:
    return list(rlp.decode(bytes.fromhex(raw_hex[2:])))


class Forger:
    """Rewrites block TARGET; `resealed` blocks get a fresh seal from `key`."""

    def __init__(self, config: NodeConfig, target: int) -> None:
        self.config = config
        self.target = hex(target)
        self.forged_hash: bytes | None = None

    def block(self, edit: Callable[[list[Any]], None]) -> Tamper:
        def tamper(method: str, param: str, result: Any) -> Any:
            if param != self.target or method != "debug_getRawBlock":
                return result
            fields = _block_fields(result)
            edit(fields)
            self.forged_hash = keccak(rlp.encode(fields[0]))
            return _hex(rlp.encode(fields))

        return tamper

    def reseal(self, edit: Callable[[list[Any]], None], key: str) -> Tamper:
        block_tamper = self.block(edit)
        sealer = Sealer(key, chain_id=self.config.chain_id)

        def tamper(method: str, param: str, result: Any) -> Any:
            if method == "debug_getRawBlock":
                return block_tamper(method, param, result)
            if param == self.target and self.forged_hash is not None:
                result = dict(result, seal=_hex(sealer.seal(self.forged_hash)))
            return result

        return tamper


def _follow_until_stuck(
    config: NodeConfig, url: str, data_dir: Path, *, fetch_process: bool = False
) -> tuple[Chain, Follower]:
    chain = Chain(replace(config, data_dir=data_dir))
    follower = Follower(chain, url, fetch_process=fetch_process)
    deadline = time.monotonic() + 60
    while follower.divergence is None and time.monotonic() < deadline:
        if not follower.step() and follower.divergence is None:
            break
    follower.close()
    return chain, follower


def _edit_tx(fields: list[Any]) -> None:
    tx = list(fields[1][0])
    tx[4] = (1).to_bytes(1, "big")  # value 0 -> 1 wei
    fields[1] = [tx, *fields[1][1:]]


def _edit_state_root(fields: list[Any]) -> None:
    header = list(fields[0])
    header[3] = keccak(b"forged state")
    fields[0] = header


@pytest.mark.parametrize(
    ("case", "field"),
    [
        ("altered transaction", "transaction_root"),
        ("altered state root, resealed by the authority", "state_root"),
        ("altered seal", "seal"),
        ("seal from a non-authority", "seal"),
    ],
)
@pytest.mark.parametrize("fetch_process", [False, True], ids=["fetch here", "fetcher process"])
def test_a_follower_refuses_a_tampered_block_and_names_the_field(
    case: str,
    field: str,
    fetch_process: bool,
    sequencer: NodeProcess,
    node_config: NodeConfig,
    tmp_path: Path,
) -> None:
    target = 3
    forger = Forger(node_config, target)
    assert node_config.demo_authority_key
    if case == "altered transaction":
        tamper = forger.block(_edit_tx)
    elif case.startswith("altered state root"):
        tamper = forger.reseal(_edit_state_root, node_config.demo_authority_key)
    elif case == "altered seal":

        def tamper(method: str, param: str, result: Any) -> Any:
            if method == "medledger_getSeal" and param == hex(target):
                seal = bytearray.fromhex(result["seal"][2:])
                seal[10] ^= 0xFF
                return dict(result, seal=_hex(bytes(seal)))
            return result
    else:
        tamper = forger.reseal(lambda fields: None, "0x" + "42" * 32)
    proxy = TamperingProxy(sequencer.url, tamper)
    try:
        chain, follower = _follow_until_stuck(
            node_config, proxy.url, tmp_path / "f", fetch_process=fetch_process
        )
        assert follower.divergence is not None, case
        assert follower.divergence["block"] == target
        assert follower.divergence["field"] == field
        assert chain.head_number == target - 1  # it stopped advancing
        if case == "seal from a non-authority":
            assert "not an authority" in follower.divergence["message"]
        chain.close()
    finally:
        proxy.close()


def test_a_follower_catches_up_from_zero_with_identical_roots(
    sequencer: NodeProcess, node_config: NodeConfig, genesis_file: Path, tmp_path: Path
) -> None:
    follower = spawn_node(tmp_path / "follower", genesis_file, follow=sequencer.url)
    seq, fol = RpcClient(sequencer.url), RpcClient(follower.url)
    try:
        head = _fill(sequencer.url, node_config, 3)
        deadline = time.monotonic() + 60
        while int(fol.call("eth_blockNumber"), 16) < head and time.monotonic() < deadline:
            time.sleep(0.1)
        for number in (1, head):
            ours = fol.call("eth_getBlockByNumber", hex(number), False)
            theirs = seq.call("eth_getBlockByNumber", hex(number), False)
            for key in ("hash", "stateRoot", "receiptsRoot", "transactionsRoot"):
                assert ours[key] == theirs[key], key
        tx_hash = theirs["transactions"][0]
        assert fol.call("eth_getTransactionReceipt", tx_hash) == seq.call(
            "eth_getTransactionReceipt", tx_hash
        )
        status = fol.call("medledger_status")
        assert status["role"] == "follower" and status["divergence"] is None
        assert status["lag_blocks"] == 0
        assert fol.call("medledger_getSeal", hex(head)) == seq.call("medledger_getSeal", hex(head))
        admin = admin_account(node_config)
        with pytest.raises(RpcError) as info:
            fol.call("eth_sendRawTransaction", sign(admin, node_config, nonce=10_000))
        assert info.value.code == -32012 and "read-only" in info.value.message
    finally:
        seq.close()
        fol.close()
        follower.stop()


def test_a_follower_run_with_exit_on_divergence_exits_non_zero(
    sequencer: NodeProcess, node_config: NodeConfig, genesis_file: Path, tmp_path: Path
) -> None:
    proxy = TamperingProxy(sequencer.url, Forger(node_config, 2).block(_edit_tx))
    try:
        follower = spawn_node(
            tmp_path / "f",
            genesis_file,
            follow=proxy.url,
            extra=("--exit-on-divergence",),
            wait=False,
        )
        code = follower.proc.wait(timeout=60)
        log = follower.log.read_text()
        assert code != 0
        assert "DIVERGENCE at block 2 (transaction_root)" in log
    finally:
        proxy.close()


def test_a_follower_with_another_genesis_refuses_to_follow(
    sequencer: NodeProcess, node_config: NodeConfig, tmp_path: Path
) -> None:
    other = replace(node_config, genesis_timestamp=node_config.genesis_timestamp + 1)
    chain, follower = _follow_until_stuck(other, sequencer.url, tmp_path / "other")
    assert follower.divergence is not None
    assert follower.divergence["block"] == 0 and follower.divergence["field"] == "genesis"
    assert chain.head_number == 0
    chain.close()
