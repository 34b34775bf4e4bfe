"""Execution budgets at admission and in the block maker. Gas is free, so admission bounds
what one transaction may make the chain do (a gas cap, no transactions straight to a
precompile, contract creation by the admin only, at least EIP-7623's calldata floor, no
access list), and a block stops taking transactions
once its time budget is spent; the follower replays such blocks as they were made."""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import replace
from typing import Any

import pytest
from eth_account import Account
from eth_account.signers.local import LocalAccount
from web3 import Web3

from medledger.node.app import Node
from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from medledger.node.errors import RpcError
from medledger.sdk.ledger import Ledger
from medledger.sdk.model import Role
from tests.node.conftest import admin_account, deployment_of, sign, wait_receipt

LOOP_INITCODE = "0x5b600056"  # JUMPDEST, PUSH1 0, JUMP


@pytest.fixture
def node(inprocess: Callable[..., Node], node_config: NodeConfig) -> Node:
    return inprocess(node_config)


@pytest.fixture
def client(node: Node) -> Iterator[RpcClient]:
    c = RpcClient(node.url)
    yield c
    c.close()


@pytest.fixture
def member(node: Node, node_config: NodeConfig) -> LocalAccount:
    """An active member (a regulator: what the bootstrap admin may admit)."""
    account: LocalAccount = Account.create()
    admin = Ledger(
        Web3(Web3.HTTPProvider(node.url)), deployment_of(node_config), admin_account(node_config)
    )
    admin.admit(account.address, Role.REGULATOR, "Budget test regulator")
    return account


def _refusal(client: RpcClient, raw: str) -> RpcError:
    with pytest.raises(RpcError) as info:
        client.call("eth_sendRawTransaction", raw)
    return info.value


def test_a_member_deploying_a_billion_gas_loop_is_refused_naming_the_gas_limit(
    node: Node, client: RpcClient, member: LocalAccount, node_config: NodeConfig
) -> None:
    raw = sign(member, node_config, nonce=0, to="", data=LOOP_INITCODE, gas=10**9)
    error = _refusal(client, raw)
    assert error.code == -32003
    assert error.message == (
        "transaction gas 1000000000 exceeds the per-transaction limit 30000000"
    )
    assert error.data == {"reason": "tx_gas", "limit": 30_000_000}


def test_only_the_consortium_admin_may_create_contracts(
    node: Node, client: RpcClient, member: LocalAccount, node_config: NodeConfig
) -> None:
    error = _refusal(
        client, sign(member, node_config, nonce=0, to="", data=LOOP_INITCODE, gas=1_000_000)
    )
    assert error.code == -32003
    assert error.data == {"reason": "contract_creation"}
    assert f"reserved to the consortium admin {node_config.bootstrap_admin.lower()}" in (
        error.message.lower()
    )
    admin = admin_account(node_config)
    nonce = int(client.call("eth_getTransactionCount", admin.address, "pending"), 16)
    # STOP as init code: an empty contract, made by the admin
    made = client.call(
        "eth_sendRawTransaction", sign(admin, node_config, nonce=nonce, to="", data="0x00")
    )
    assert wait_receipt(client, made)["status"] == "0x1"


@pytest.mark.parametrize("precompile", [0x1, 0x8, 0x9, 0xF, 0x11, 0xFFFF])
def test_a_transaction_straight_to_a_precompile_is_refused(
    client: RpcClient, member: LocalAccount, node_config: NodeConfig, precompile: int
) -> None:
    to = Web3.to_checksum_address(precompile.to_bytes(20, "big"))
    error = _refusal(client, sign(member, node_config, nonce=0, to=to))
    assert error.code == -32003
    assert error.data == {"reason": "precompile"}


def test_a_transaction_past_the_size_limit_is_refused(
    inprocess: Callable[..., Node], node_config: NodeConfig
) -> None:
    node = inprocess(replace(node_config, max_tx_bytes=1_000))
    admin = admin_account(node_config)
    client = RpcClient(node.url)
    error = _refusal(client, sign(admin, node_config, nonce=0, data=b"\x01" * 1_000))
    client.close()
    assert error.code == -32602
    assert error.data == {"reason": "tx_size", "limit": 1_000}


def test_a_gas_limit_below_the_calldata_floor_is_refused_and_one_at_it_pays_the_floor(
    client: RpcClient, node_config: NodeConfig
) -> None:
    admin = admin_account(node_config)
    payload = b"\x00" * 100 + b"\x01" * 1_000  # 100 + 4,000 tokens: floor 62,000 gas
    floor = 21_000 + 10 * 4_100
    assert floor > 21_000 + 4 * 100 + 16 * 1_000  # above the intrinsic gas py-evm checks
    error = _refusal(client, sign(admin, node_config, nonce=0, data=payload, gas=floor - 1))
    assert error.code == -32003
    assert error.data == {"reason": "calldata_floor", "limit": floor}
    assert error.message.startswith(f"transaction gas {floor - 1} is below its calldata floor")
    # what the SDK signs: the node's own estimate, which meets the floor
    estimate = client.call(
        "eth_estimateGas",
        {"from": admin.address, "to": admin.address, "data": "0x" + payload.hex()},
    )
    assert int(estimate, 16) == floor
    made = client.call(
        "eth_sendRawTransaction", sign(admin, node_config, nonce=0, data=payload, gas=floor)
    )
    receipt = wait_receipt(client, made)
    assert (receipt["status"], int(receipt["gasUsed"], 16)) == ("0x1", floor)


def _with_access_list(account: LocalAccount, config: NodeConfig, *, kind: int, listed: Any) -> str:
    fees = {"gasPrice": 0} if kind == 1 else {"maxFeePerGas": 0, "maxPriorityFeePerGas": 0}
    tx = {"chainId": config.chain_id, "nonce": 0, "gas": 100_000, "to": account.address}
    signed = account.sign_transaction({**tx, **fees, "value": 0, "accessList": listed})
    return "0x" + bytes(signed.raw_transaction).hex()


@pytest.mark.parametrize("kind", [1, 2])
def test_a_transaction_with_an_access_list_is_refused_and_an_empty_list_is_accepted(
    client: RpcClient, member: LocalAccount, node_config: NodeConfig, kind: int
) -> None:
    listed = [{"address": member.address, "storageKeys": ["0x" + "00" * 32]}]
    raw = _with_access_list(member, node_config, kind=kind, listed=listed)
    assert raw.startswith(f"0x0{kind}")
    error = _refusal(client, raw)
    assert error.code == -32003
    assert error.data == {"reason": "access_list"}
    assert error.message.startswith("transactions with an access list are not accepted")
    empty = _with_access_list(member, node_config, kind=kind, listed=[])
    made = client.call("eth_sendRawTransaction", empty)
    assert wait_receipt(client, made)["status"] == "0x1"


def test_a_block_stops_taking_transactions_once_its_time_budget_is_spent_and_the_follower_agrees(
    inprocess: Callable[..., Node], node_config: NodeConfig
) -> None:
    config = replace(node_config, block_time_budget_ms=0, batch_size=6, block_interval_ms=2_000)
    sequencer = inprocess(config, "sequencer")
    follower = inprocess(config, "follower", follow_url=sequencer.url)
    client = RpcClient(sequencer.url)
    admin = admin_account(config)
    hashes = [client.call("eth_sendRawTransaction", sign(admin, config, nonce=n)) for n in range(6)]
    receipts = [wait_receipt(client, h) for h in hashes]
    blocks = [int(r["blockNumber"], 16) for r in receipts]
    assert blocks == sorted(blocks)  # nonce order kept across the deferrals
    assert len(set(blocks)) > 1  # one batch, spread over several blocks
    assert all(r["status"] == "0x1" for r in receipts)
    head = sequencer.chain.head_number
    deadline = time.monotonic() + 30
    while follower.chain.head_number < head and time.monotonic() < deadline:
        time.sleep(0.05)
    client.close()
    assert follower.chain.head_hash == sequencer.chain.head_hash
    assert follower.follower is not None and follower.follower.divergence is None
