"""A node whose mempool is full answers eth_sendRawTransaction with a backpressure error,
over real HTTP, and accepts again once a block has drained the pool."""

from __future__ import annotations

import time
from dataclasses import replace

import pytest

from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from medledger.node.errors import RpcError
from tests.node.conftest import admin_account, sign, wait_receipt


def test_a_full_mempool_answers_with_a_backpressure_error(inprocess, node_config: NodeConfig):
    config = replace(node_config, mempool_limit=3, batch_size=100, block_interval_ms=5_000)
    node = inprocess(config)
    client = RpcClient(node.url)
    admin = admin_account(config)
    hashes = [client.call("eth_sendRawTransaction", sign(admin, config, nonce=n)) for n in range(3)]
    with pytest.raises(RpcError) as info:
        client.call("eth_sendRawTransaction", sign(admin, config, nonce=3))
    assert info.value.code == -32011
    assert "mempool full (3 of 3 transactions)" in info.value.message
    assert client.call("medledger_status")["mempool"] == 3
    for tx_hash in hashes:
        assert wait_receipt(client, tx_hash)["status"] == "0x1"
    time.sleep(0.05)
    again = client.call("eth_sendRawTransaction", sign(admin, config, nonce=3))
    assert wait_receipt(client, again)["status"] == "0x1"
    client.close()
