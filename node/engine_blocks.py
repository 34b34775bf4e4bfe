"""Blocks around a `BlockExecutor`: the environment from the parent header, the Prague
header from a `BlockResult`, and the block persisted in py-evm's `ChainDB` format, so a
block executed by any engine is stored and served exactly as `node.evm.build_block` stores
it (same keys, same header, same hash).

`build` is the sequencer's path (execute, commit the state, assemble and persist the
header); `replay` is the follower's (decode a published block, execute it strictly,
compare the header field by field: `DivergenceError` names the first field that differs).
"""

from __future__ import annotations

import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import rlp
from eth.exceptions import HeaderNotFound
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from eth_typing import Address, BlockNumber, Hash32

from medledger.node import evm
from medledger.node.engine import (
    BlockEnv,
    BlockExecutor,
    BlockResult,
    EngineError,
    Transaction,
    TrieState,
    UnsupportedByEngine,
    receipts_root,
    transactions_root,
)
from medledger.node.errors import DivergenceError, NodeError
from medledger.node.mpt import ordered_trie_root_and_nodes

__all__ = ["Block", "build", "replay"]


@dataclass(slots=True)
class Block:
    """A block executed and persisted into the caller's buffer (not yet committed)."""

    number: int
    hash: bytes
    header: Any
    result: BlockResult


def _header(
    env: BlockEnv, result: BlockResult, state_root: bytes, *, extra_data: bytes = b""
) -> Any:
    """The Prague header `node.evm.build_block` makes for this result: zero blob fields,
    beacon root and mix hash, no withdrawals, no requests (sha256 of nothing)."""
    raws = [tx.source.raw for tx in result.transactions]
    return PragueBlockHeader(
        difficulty=0,
        block_number=BlockNumber(env.number),
        gas_limit=env.gas_limit,
        timestamp=env.timestamp,
        coinbase=Address(env.coinbase),
        parent_hash=Hash32(env.parent_hash),
        state_root=Hash32(state_root),
        transaction_root=Hash32(transactions_root(raws)),
        receipt_root=Hash32(receipts_root(result.receipts)),
        bloom=result.bloom,
        gas_used=result.gas_used,
        extra_data=extra_data,
        base_fee_per_gas=0,
    )


def _persist(db: Any, header: Any, result: BlockResult) -> None:
    """Header, body, transaction and receipt tries, as py-evm's VM and ChainDB write them."""
    chaindb = evm.chaindb_of(db)
    raws = [tx.source.raw for tx in result.transactions]
    for items in (raws, [receipt.encode() for receipt in result.receipts]):
        _, nodes = ordered_trie_root_and_nodes(items)
        for key, value in nodes.items():
            db[key] = value
    body = [tx.source.obj for tx in result.transactions]
    chaindb.persist_block(PragueBlock(header, transactions=body, uncles=[], withdrawals=[]))


def _parent(db: Any, parent_hash: bytes) -> Any:
    return evm.chaindb_of(db).get_block_header_by_hash(Hash32(parent_hash))


def build(
    db: Any,
    executor: BlockExecutor,
    parent_hash: bytes,
    txs: Sequence[evm.DecodedTx],
    *,
    chain_id: int,
    coinbase: bytes,
    timestamp: int,
    gas_limit: int,
    time_budget: float | None = None,
) -> Block:
    """Execute `txs` on the parent's state (not strict: invalid ones dropped, those over
    the gas or time left deferred), commit the state into `db` and persist the block."""
    parent = _parent(db, parent_hash)
    env = BlockEnv(
        number=int(parent.block_number) + 1,
        parent_hash=bytes(parent_hash),
        coinbase=coinbase,
        timestamp=max(timestamp, int(parent.timestamp)),
        gas_limit=gas_limit,
        chain_id=chain_id,
    )
    deadline = None if time_budget is None else time.monotonic() + time_budget
    state = TrieState(db, bytes(parent.state_root))
    result = executor.execute_block(
        state, env, [Transaction.of(tx) for tx in txs], deadline=deadline
    )
    root = executor.commit(db, state.state_root, result)
    header = _header(env, result, root)
    _persist(db, header, result)
    return Block(env.number, bytes(header.hash), header, result)


def replay(
    db: Any,
    executor: BlockExecutor,
    raw_block: bytes,
    *,
    chain_id: int,
    check_hash: Callable[[bytes], object] | None = None,
    senders: Sequence[bytes] | None = None,
    persist: bool = True,
) -> Block:
    """Re-execute a published block and persist it if every header field agrees; else
    `DivergenceError` naming the first field that differs (as `node.evm.import_block`).
    Not `persist`: only what the executor's `commit` writes (the state) goes into `db`."""
    try:
        published = rlp.decode(raw_block, sedes=PragueBlock)
    except (rlp.DecodingError, rlp.DeserializationError) as exc:
        raise DivergenceError(-1, "encoding", "a Prague block", str(exc)) from exc
    ph = published.header
    number = int(ph.block_number)
    if check_hash is not None:
        check_hash(ph.hash)
    try:
        parent = _parent(db, ph.parent_hash)
    except HeaderNotFound as exc:
        raise DivergenceError(
            number, "parent_hash", _show(ph.parent_hash), "unknown parent"
        ) from exc
    raws = [tx.encode() for tx in published.transactions]
    tx_root = transactions_root(raws)
    if tx_root != ph.transaction_root:
        raise DivergenceError(
            number, "transaction_root", _show(ph.transaction_root), _show(tx_root)
        )
    if senders is not None and len(senders) != len(raws):
        senders = None
    txs = []
    for index, (tx, raw) in enumerate(zip(published.transactions, raws, strict=True)):
        try:
            sender = None if senders is None else senders[index]
            txs.append(Transaction.of(evm.check_transaction(tx, raw, sender=sender)))
        except NodeError as exc:
            raise DivergenceError(number, f"transaction {index}", "valid", str(exc)) from exc
    if ph.timestamp < parent.timestamp:
        raise DivergenceError(number, "timestamp", str(ph.timestamp), "before parent")
    env = BlockEnv(
        number=int(parent.block_number) + 1,
        parent_hash=bytes(ph.parent_hash),
        coinbase=bytes(ph.coinbase),
        timestamp=int(ph.timestamp),
        gas_limit=int(ph.gas_limit),
        chain_id=chain_id,
    )
    state = TrieState(db, bytes(parent.state_root))
    try:
        result = executor.execute_block(state, env, txs, strict=True)
    except UnsupportedByEngine as exc:
        raise DivergenceError(number, "engine", "a block this engine runs", str(exc)) from exc
    except EngineError as exc:
        raise DivergenceError(number, f"transaction {_index_of(exc)}", "valid", str(exc)) from exc
    root = executor.commit(db, state.state_root, result)
    ours = _header(env, result, root, extra_data=bytes(ph.extra_data))
    for name in evm.HEADER_FIELDS:
        expected, actual = getattr(ph, name), getattr(ours, name)
        if expected != actual:
            raise DivergenceError(number, name, _show(expected), _show(actual))
    if persist:
        _persist(db, ours, result)
    return Block(number, bytes(ours.hash), ours, result)


def _index_of(exc: EngineError) -> str:
    """The index an engine's "transaction N: ..." message names, else "?"."""
    text = str(exc)
    head, _, _ = text.partition(":")
    return head.removeprefix("transaction ") if head.startswith("transaction ") else "?"


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)
