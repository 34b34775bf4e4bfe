"""The mempool's ordering, gap queue, duplicate rejection and bound, on real signed txs."""

from __future__ import annotations

import pytest
from eth_account import Account

from medledger.node.errors import BackpressureError, RpcError
from medledger.node.evm import DecodedTx, decode_transaction
from medledger.node.mempool import Mempool

KEY_A = Account.from_key("0x" + "0a" * 32)
KEY_B = Account.from_key("0x" + "0b" * 32)


def tx(account, nonce: int, chain_id: int = 1337) -> DecodedTx:
    raw = account.sign_transaction(
        {
            "chainId": chain_id,
            "nonce": nonce,
            "gas": 21000,
            "gasPrice": 0,
            "to": account.address,
            "value": 0,
        }
    ).raw_transaction
    return decode_transaction(bytes(raw))


def test_transactions_leave_in_nonce_order_and_gaps_wait() -> None:
    pool = Mempool(limit=100)
    pool.add(tx(KEY_A, 2), lambda: 0)
    pool.add(tx(KEY_A, 1), lambda: 0)
    assert pool.take(10) == []
    assert pool.pending_nonce(bytes.fromhex(KEY_A.address[2:]), lambda: 0) == 0
    pool.add(tx(KEY_A, 0), lambda: 0)
    assert [t.nonce for t in pool.take(10)] == [0, 1, 2]


def test_a_duplicate_is_rejected_while_pending() -> None:
    pool = Mempool(limit=100)
    pool.add(tx(KEY_A, 0), lambda: 0)
    with pytest.raises(RpcError, match="already known"):
        pool.add(tx(KEY_A, 0), lambda: 0)
    with pytest.raises(RpcError, match="nonce too low"):
        pool.add(tx(KEY_A, 0, chain_id=5), lambda: 0)


def test_a_full_mempool_answers_with_backpressure() -> None:
    pool = Mempool(limit=2)
    pool.add(tx(KEY_A, 0), lambda: 0)
    pool.add(tx(KEY_B, 0), lambda: 0)
    with pytest.raises(BackpressureError) as info:
        pool.add(tx(KEY_A, 1), lambda: 0)
    assert info.value.code == -32011 and "retry" in info.value.message
    mined = pool.take(2)
    pool.settle(mined, [])
    pool.add(tx(KEY_A, 1), lambda: 1)
    assert len(pool) == 1


def test_a_transaction_too_far_ahead_is_refused() -> None:
    pool = Mempool(limit=100)
    with pytest.raises(RpcError, match="nonce too high"):
        pool.add(tx(KEY_A, 10_000), lambda: 0)


def test_a_garbled_transaction_is_refused_with_a_reason() -> None:
    from medledger.node.errors import NodeError

    with pytest.raises(NodeError, match="invalid transaction"):
        decode_transaction(b"\x02\xc0garbage")
