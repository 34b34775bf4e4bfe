"""Foundry's `cast` (from npm) against our node: block number, blocks, contract calls, a
raw signed transaction built by `cast mktx` and published, and logs."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path

import pytest
from eth_account import Account

from node.client import RpcClient
from node.config import NodeConfig
from tests.node.conftest import REPO, NodeProcess, spawn_node, wait_receipt

CAST = REPO / "node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
pytestmark = pytest.mark.skipif(not CAST.exists(), reason="cast is installed by npm ci")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, genesis_file: Path) -> Iterator[NodeProcess]:
    process = spawn_node(tmp_path_factory.mktemp("cast") / "node", genesis_file)
    yield process
    process.stop()


def cast(node: NodeProcess, *args: str) -> str:
    result = subprocess.run(
        [str(CAST), *args, "--rpc-url", node.url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(REPO)},
    )
    assert result.returncode == 0, result.stderr
    return result.stdout.strip()


def test_cast_sends_a_raw_signed_transaction_and_reads_it_back(
    node: NodeProcess, node_config: NodeConfig
) -> None:
    assert node_config.demo_admin_key
    partners = node_config.contract_address("Partners")
    regulator = Account.create().address
    assert cast(node, "call", partners, "isActive(address)(bool)", regulator) == "false"
    raw = cast(
        node, "mktx", "--private-key", node_config.demo_admin_key,
        "--gas-price", "0", "--priority-gas-price", "0",
        partners, "admit(address,uint8,string)", regulator, "1", "Cast regulator",
    )  # fmt: skip
    assert raw.startswith("0x02")
    tx_hash = cast(node, "publish", raw, "--async")
    assert tx_hash.startswith("0x") and len(tx_hash) == 66
    client = RpcClient(node.url)
    receipt = wait_receipt(client, tx_hash)
    client.close()
    assert receipt["status"] == "0x1"
    assert cast(node, "call", partners, "isActive(address)(bool)", regulator) == "true"

    number = int(cast(node, "block-number"))
    assert number >= int(receipt["blockNumber"], 16)
    block = json.loads(cast(node, "block", str(int(receipt["blockNumber"], 16)), "--json"))
    assert block["hash"] == receipt["blockHash"]
    assert tx_hash in block["transactions"]
    assert json.loads(cast(node, "tx", tx_hash, "--json"))["hash"] == tx_hash

    logs = json.loads(
        cast(node, "logs", "--json", "--from-block", "0", "--to-block", "latest",
             "--address", partners, "MemberAdmitted(address,uint8,string,address)")
    )  # fmt: skip
    assert any(log["transactionHash"] == tx_hash for log in logs)
