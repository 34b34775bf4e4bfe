"""A block's durable write (LMDB commit and fsync) does not hold up admission, and still
no receipt exists before the block is on disk."""

from __future__ import annotations

import sys
import threading
import time
from collections.abc import Callable
from dataclasses import replace

from medledger.node.app import Node
from medledger.node.client import RpcClient
from medledger.node.config import NodeConfig
from tests.node.conftest import admin_account, sign, wait_receipt


def _wait_until_writing(timeout: float = 30.0) -> None:
    """Until the sequencer thread is inside `WriteBuffer.commit` (waiting for LMDB)."""
    sequencer = next(t for t in threading.enumerate() if t.name == "sequencer")
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        frame = sys._current_frames().get(sequencer.ident or -1)
        while frame is not None:
            if frame.f_code.co_name == "commit" and "store" in frame.f_code.co_filename:
                return
            frame = frame.f_back
        time.sleep(0.01)
    raise TimeoutError("the sequencer never reached a block commit")


def test_admission_answers_while_a_block_waits_to_be_written(
    inprocess: Callable[..., Node], node_config: NodeConfig
) -> None:
    config = replace(node_config, block_interval_ms=20)
    node = inprocess(config)
    client = RpcClient(node.url, timeout=10)
    admin = admin_account(config)
    # Holding LMDB's writer lock stands in for a slow disk: the next commit waits on it.
    writer = node.chain.store.env.begin(write=True)
    try:
        first = client.call("eth_sendRawTransaction", sign(admin, config, nonce=0))
        _wait_until_writing()
        second = client.call("eth_sendRawTransaction", sign(admin, config, nonce=1))
        assert client.call("eth_getTransactionReceipt", first) is None
        assert client.call("medledger_getTransactionStatus", second) == {"status": "pending"}
        assert client.call("eth_getTransactionCount", admin.address, "pending") == "0x2"
    finally:
        writer.abort()
    one, two = wait_receipt(client, first), wait_receipt(client, second)
    assert (one["status"], two["status"]) == ("0x1", "0x1")
    assert int(one["blockNumber"], 16) < int(two["blockNumber"], 16)
    client.close()
