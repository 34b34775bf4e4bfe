"""`medledger node` runs a helper process: a sequencer's JSON-RPC front (`node.front`), a
follower's block fetcher (`node.fetcher`). Node and helper live and die together, and the
front refuses a taken port."""

from __future__ import annotations

import socket
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import psutil

from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from tests.node.conftest import REPO, NodeProcess, admin_account, sign, wait_receipt


def _front(node: NodeProcess) -> psutil.Process:
    children = psutil.Process(node.proc.pid).children()
    assert len(children) == 1, children
    return children[0]


def _gone(process: psutil.Process, timeout: float = 10.0) -> bool:
    try:
        process.wait(timeout)
    except psutil.TimeoutExpired:
        return False
    return True


def test_a_sigkilled_node_takes_its_rpc_front_with_it_and_restarts_on_the_same_port(
    spawn: Callable[..., NodeProcess], genesis_file: Path, node_config: NodeConfig
) -> None:
    node = spawn("node", genesis_file)
    client = RpcClient(node.url)
    tx = client.call(
        "eth_sendRawTransaction", sign(admin_account(node_config), node_config, nonce=0)
    )
    mined = wait_receipt(client, tx)
    client.close()
    front = _front(node)
    assert front.pid != node.proc.pid
    node.kill()
    assert _gone(front), "the RPC front outlived its node process"
    port = int(node.url.rsplit(":", 1)[1])
    again = spawn("node", genesis_file, port=port)
    client = RpcClient(again.url)
    assert client.call("eth_getTransactionReceipt", tx)["blockHash"] == mined["blockHash"]
    client.close()


def test_the_node_exits_non_zero_when_its_rpc_front_dies(
    spawn: Callable[..., NodeProcess], genesis_file: Path
) -> None:
    node = spawn("node", genesis_file)
    _front(node).kill()
    assert node.proc.wait(timeout=30) == 1


def test_a_follower_exits_non_zero_when_its_fetcher_dies(
    spawn: Callable[..., NodeProcess], genesis_file: Path
) -> None:
    sequencer = spawn("node", genesis_file)
    follower = spawn("follower", genesis_file, follow=sequencer.url)
    client = RpcClient(follower.url)
    assert client.call("medledger_status")["role"] == "follower"
    client.close()
    _front(follower).kill()
    assert follower.proc.wait(timeout=30) == 1


def test_a_port_in_use_is_named(tmp_path: Path, genesis_file: Path) -> None:
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        started = time.monotonic()
        result = subprocess.run(
            [sys.executable, "-m", "medledger.cli", "node", "--data-dir", str(tmp_path / "d"),
             "--genesis", str(genesis_file), "--rpc-port", str(port)],
            cwd=REPO, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
    assert result.returncode == 2, result.stdout + result.stderr
    assert f"cannot listen on 127.0.0.1:{port}" in " ".join(result.stdout.split())
    assert time.monotonic() - started < 120
