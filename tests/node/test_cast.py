"""Foundry's `cast` (from npm) against our node: block number, blocks, contract calls, a
raw signed transaction built by `cast mktx` and published, and logs; and every served
JSON-RPC method through `cast rpc`, with invalid parameters answered as go-ethereum does
(-32602 naming the parameter; a valid tag, number or hash of no block: null where geth
answers null, -32000 "header not found" where geth reads state at it)."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
from eth_account import Account

from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from medledger.node.rpc import Rpc
from tests.node.conftest import REPO, NodeProcess, spawn_node, wait_receipt

CAST = REPO / "node_modules/@foundry-rs/cast-linux-amd64/bin/cast"
pytestmark = pytest.mark.skipif(not CAST.exists(), reason="cast is installed by npm ci")


@pytest.fixture(scope="module")
def node(tmp_path_factory: pytest.TempPathFactory, genesis_file: Path) -> Iterator[NodeProcess]:
    process = spawn_node(tmp_path_factory.mktemp("cast") / "node", genesis_file)
    yield process
    process.stop()


def run_cast(node: NodeProcess, *args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(CAST), *args, "--rpc-url", node.url],
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": "/usr/bin:/bin", "NO_COLOR": "1", "HOME": str(REPO)},
    )


def cast(node: NodeProcess, *args: str) -> str:
    result = run_cast(node, *args)
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


# -- conformance: every served method through `cast rpc`, valid and invalid parameters ----

ACCOUNT = "0x" + "11" * 20
UNKNOWN_HASH = "0x" + "ab" * 32
PAST_HEAD = "0xffffff"
IS_ACTIVE_ZERO = "0x9f8a13d7" + "00" * 32  # isActive(address(0))
Ok = tuple[str, Any]  # ("ok", the result, or a type it must have)
Err = tuple[str, int, str]  # ("error", code, text cast prints)


def _ok(result: Any) -> Ok:
    return ("ok", result)


def _invalid(text: str) -> Err:
    return ("error", -32602, text)


def _not_found(text: str) -> Err:
    return ("error", -32000, text)


CASES: dict[str, list[tuple[list[Any], Ok | Err]]] = {
    "web3_clientVersion": [([], _ok(str)), (["x"], _invalid("too many arguments, want at most 0"))],
    "net_version": [([], _ok(str))],
    "net_listening": [([], _ok(True))],
    "net_peerCount": [([], _ok("0x0"))],
    "eth_chainId": [([], _ok(str))],
    "eth_syncing": [([], _ok(False))],
    "eth_accounts": [([], _ok([]))],
    "eth_blockNumber": [([], _ok(str))],
    "eth_gasPrice": [([], _ok("0x0"))],
    "eth_maxPriorityFeePerGas": [([], _ok("0x0"))],
    "eth_blobBaseFee": [([], _ok("0x0"))],
    "eth_feeHistory": [
        (["0x1", "0x0", []], _ok(dict)),
        (["0x1", "not-a-block", []], _invalid("block must be a number, a hash or one of")),
        (["0x1", UNKNOWN_HASH, []], _invalid("newestBlock must be a block number or tag")),
        (["-0x1", "latest", []], _invalid("blockCount must be a 0x-prefixed hex quantity")),
        (["0x1", "latest", [50, 10]], _invalid("rewardPercentiles must be in ascending order")),
    ],
    "eth_getBlockByNumber": [
        (["0x0", False], _ok(dict)),
        ([PAST_HEAD, False], _ok(None)),
        (["not-a-block", False], _invalid("got 'not-a-block'")),
        (["-0x1", False], _invalid("got '-0x1'")),
        (["0xzz", False], _invalid("block number must be a 0x-prefixed hex quantity")),
        (["0x1" + "0" * 16, False], _invalid("block number must be below 2**64")),
        ([UNKNOWN_HASH, False], _invalid("block must be a block number or tag, not a hash")),
        (["latest", "yes"], _invalid("full (the second argument) must be true or false")),
        (["latest"], _invalid("missing value for required argument 1")),
        (["latest", False, 1], _invalid("too many arguments, want at most 2")),
    ],
    "eth_getBlockByHash": [
        ([UNKNOWN_HASH, False], _ok(None)),
        (["0x1234", False], _invalid("block hash must be 32 bytes, got 2")),
        (["latest", False], _invalid("block hash must be a 0x-prefixed hex string")),
        ([UNKNOWN_HASH, 0], _invalid("must be true or false")),
    ],
    "eth_getBlockTransactionCountByNumber": [
        (["0x0"], _ok("0x0")),
        ([PAST_HEAD], _ok(None)),
        (["bogus"], _invalid("got 'bogus'")),
    ],
    "eth_getTransactionByHash": [
        ([UNKNOWN_HASH], _ok(None)),
        (["0x12"], _invalid("transaction hash must be 32 bytes")),
    ],
    "eth_getTransactionReceipt": [
        ([UNKNOWN_HASH], _ok(None)),
        ([12], _invalid("transaction hash must be a 0x-prefixed hex string")),
    ],
    "eth_getTransactionCount": [
        ([ACCOUNT, "latest"], _ok("0x0")),
        (["0x12", "latest"], _invalid("address must be 20 bytes")),
        ([ACCOUNT, "nope"], _invalid("got 'nope'")),
        ([ACCOUNT, PAST_HEAD], _not_found("header not found: block 16777215")),
    ],
    "eth_getBalance": [
        ([ACCOUNT, "latest"], _ok("0x0")),
        ([ACCOUNT, {"blockHash": UNKNOWN_HASH}], _not_found("header for hash not found")),
        ([ACCOUNT, {"blockHash": "0x12"}], _invalid("blockHash must be 32 bytes")),
    ],
    "eth_getCode": [
        ([ACCOUNT, "latest"], _ok("0x")),
        ([ACCOUNT, -1], _invalid("got -1")),
        ([ACCOUNT, PAST_HEAD], _not_found("header not found")),
    ],
    "eth_getStorageAt": [
        ([ACCOUNT, "0x0", "latest"], _ok("0x" + "00" * 32)),
        ([ACCOUNT, "slot", "latest"], _invalid("slot must be a 0x-prefixed hex quantity")),
        ([ACCOUNT, "-0x1", "latest"], _invalid("slot must be a 0x-prefixed hex quantity")),
    ],
    "eth_sendRawTransaction": [
        (["0xzz"], _invalid("raw transaction is not valid hex")),
        (["0xc0"], _invalid("invalid transaction")),
        (["0x1234"], _invalid("transaction type 0x12 is not accepted on this chain")),
        ([], _invalid("missing value for required argument 0")),
    ],
    "eth_call": [
        ([{"to": "PARTNERS", "data": IS_ACTIVE_ZERO}, "latest"], _ok("0x" + "00" * 32)),
        (["not-an-object", "latest"], _invalid("the call object must be a JSON object")),
        ([{"to": "0x12"}, "latest"], _invalid("address must be 20 bytes")),
        ([{"to": ACCOUNT}, PAST_HEAD], _not_found("header not found")),
    ],
    "eth_estimateGas": [
        ([{"from": ACCOUNT, "to": ACCOUNT}], _ok(str)),
        ([{"to": ACCOUNT}, "bogus"], _invalid("got 'bogus'")),
        ([{"to": ACCOUNT, "value": "-0x1"}], _invalid("value must be a 0x-prefixed hex quantity")),
    ],
    "eth_getLogs": [
        ([{"fromBlock": "0x0", "toBlock": "0x0"}], _ok([])),
        ([{"blockHash": UNKNOWN_HASH}], _not_found(f"unknown block {UNKNOWN_HASH}")),
        ([{"fromBlock": "bogus"}], _invalid("got 'bogus'")),
        ([{"blockHash": UNKNOWN_HASH, "fromBlock": "0x0"}], _invalid("cannot be combined")),
        (["not-a-filter"], _invalid("the log filter must be a JSON object")),
    ],
    "debug_getRawBlock": [
        (["0x0"], _ok(str)),
        ([PAST_HEAD], _not_found("header not found")),
        (["bogus"], _invalid("got 'bogus'")),
    ],
    "medledger_getSeal": [
        (["0x0"], _ok(dict)),
        ([PAST_HEAD], _ok(None)),
        (["not-a-block"], _invalid("got 'not-a-block'")),
    ],
    "medledger_getTransactionStatus": [
        ([UNKNOWN_HASH], _ok({"status": "unknown"})),
        (["0x12"], _invalid("transaction hash must be 32 bytes")),
    ],
    "medledger_authorities": [([], _ok(list))],
    "medledger_status": [([], _ok(dict))],
}


def test_the_conformance_cases_cover_every_served_method() -> None:
    served = {n for n in dir(Rpc) if n.startswith(("eth_", "net_", "web3_", "debug_", "medl"))}
    assert set(CASES) == served


def _params(params: list[Any], config: NodeConfig) -> str:
    text = json.dumps(params)
    return text.replace('"PARTNERS"', json.dumps(config.contract_address("Partners")))


@pytest.mark.parametrize("method", sorted(CASES))
def test_cast_rpc_gets_each_method_answered_as_geth_would(
    node: NodeProcess, node_config: NodeConfig, method: str
) -> None:
    for params, expected in CASES[method]:
        result = run_cast(node, "rpc", "--raw", method, _params(params, node_config))
        if expected[0] == "ok":
            assert result.returncode == 0, (params, result.stderr)
            answer, want = json.loads(result.stdout), expected[1]
            if isinstance(want, type):
                assert isinstance(answer, want), (params, answer)
            else:
                assert answer == want, params
        else:
            _, code, text = expected
            assert result.returncode == 1, (params, result.stdout)
            said = result.stderr.strip()
            assert said.startswith(f"Error: server returned an error response: error code {code}: ")
            assert text in said, (params, said)


def test_cast_names_what_is_wrong_with_a_bad_block_or_an_unknown_method(
    node: NodeProcess,
) -> None:
    """The issue's finding through cast's own commands: a bad tag is an error, not null."""
    said = run_cast(node, "rpc", "eth_getBlockByNumber", "not-a-block", "false")
    assert said.returncode == 1
    assert "error code -32602: block must be a number, a hash or one of" in said.stderr
    missing = run_cast(node, "block", "16777215")
    assert missing.returncode == 1
    assert missing.stderr.strip() == "Error: block 0xffffff not found"  # a null answer
    state = run_cast(node, "balance", ACCOUNT, "--block", "16777215")
    assert state.returncode == 1
    assert "error code -32000: header not found" in state.stderr
    unknown = run_cast(node, "rpc", "eth_nope")
    assert unknown.returncode == 1
    assert "error code -32601: the method eth_nope does not exist/is not available" in (
        unknown.stderr
    )
