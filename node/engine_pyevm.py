"""Block execution on py-evm, as a `BlockExecutor`: the reference the revm engine is
compared with.

`PyEvmExecutor` calls `node.evm.build_block` (py-evm as it ships) on a throwaway `BatchDB`
over the store, so nothing is written; the write set is then read back from the tries py-evm wrote
(`node.trie_diff`): accounts and slots come out keyed by their hashes, as the state trie
keys them. py-evm needs the parent header in the same store (`TrieState.db`).
"""

from __future__ import annotations

import time
from collections.abc import Iterator, Sequence
from typing import Any

import rlp
from eth.db.batch import BatchDB
from trie.constants import BLANK_NODE_HASH

from medledger.node import evm, evm_reads
from medledger.node.engine import (
    EMPTY_CODE_HASH,
    AccountChange,
    BlockEnv,
    BlockResult,
    EngineError,
    StateChanges,
    StateReader,
    Transaction,
    TrieState,
    commit_state,
    use_native_keccak,
)
from medledger.node.trie_diff import changed_keys

__all__ = ["PyEvmExecutor", "state_changes"]


class PyEvmExecutor:
    """py-evm's execution of a block."""

    def __init__(self) -> None:
        use_native_keccak()
        self.last_header: Any = None  # py-evm's header of the last block executed
        self._pending: tuple[BlockResult, BatchDB] | None = None

    def execute_block(
        self,
        state: StateReader,
        env: BlockEnv,
        transactions: Sequence[Transaction],
        *,
        strict: bool = False,
        deadline: float | None = None,
    ) -> BlockResult:
        if not isinstance(state, TrieState):
            raise EngineError("py-evm reads the state from a node store (a TrieState)")
        overlay = BatchDB(state.db)  # py-evm writes here; nothing reaches state.db
        by_source = {id(tx.source): tx for tx in transactions}
        built = evm.build_block(
            overlay,
            env.parent_hash,
            [tx.source for tx in transactions],
            chain_id=env.chain_id,
            coinbase=env.coinbase,
            timestamp=env.timestamp,
            gas_limit=env.gas_limit,
            time_budget=None if deadline is None else max(0.0, deadline - time.monotonic()),
        )
        header = built.header
        if header.block_number != env.number or header.timestamp != env.timestamp:
            raise EngineError(f"block {env.number} at {env.timestamp} is not the parent's child")
        if strict and (built.dropped or built.deferred):
            reasons = [reason for _, reason in built.dropped] or ["exceeds the block's gas"]
            raise EngineError(f"a transaction is not valid: {reasons[0]}")
        included = [by_source[id(decoded)] for decoded in _decoded(built, transactions)]
        self.last_header = header
        result = BlockResult(
            transactions=included,
            receipts=evm_reads.engine_receipts(built),
            state_changes=state_changes(overlay, state.state_root, header.state_root),
            gas_used=int(header.gas_used),
            bloom=int(header.bloom),
            dropped=[(by_source[id(decoded)], reason) for decoded, reason in built.dropped],
            deferred=[by_source[id(decoded)] for decoded in built.deferred],
        )
        self._pending = (result, overlay)
        return result

    def commit(self, db: Any, parent_root: bytes, result: BlockResult) -> bytes:
        """`commit_state`; for the block just executed on `db`, everything py-evm wrote
        (its header too, so the next block finds its parent)."""
        pending, self._pending = self._pending, None
        if pending is None or pending[0] is not result or pending[1].wrapped_db is not db:
            return commit_state(db, parent_root, result.state_changes)
        pending[1].commit()
        return bytes(self.last_header.state_root)


def _decoded(built: evm.BuiltBlock, transactions: Sequence[Transaction]) -> Iterator[Any]:
    """The `DecodedTx` of each transaction py-evm included, in order."""
    by_obj = {id(tx.source.obj): tx.source for tx in transactions}
    for obj in built.transactions:
        yield by_obj[id(obj)]


def state_changes(db: Any, old_root: bytes, new_root: bytes) -> StateChanges:
    """The write set between two state roots in `db`, read from the tries."""
    accounts: dict[bytes, AccountChange | None] = {}
    codes: dict[bytes, bytes] = {}
    for hashed_address, (old, new) in changed_keys(db, old_root, new_root).items():
        if not new:
            accounts[hashed_address] = None
            continue
        nonce, balance, storage_root, code_hash = rlp.decode(new)
        old_storage, old_code = BLANK_NODE_HASH, EMPTY_CODE_HASH
        if old:
            _, _, old_storage, old_code = rlp.decode(old)
        slots = {
            slot: int.from_bytes(rlp.decode(value), "big") if value else 0
            for slot, (_, value) in changed_keys(db, old_storage, storage_root).items()
        }
        if code_hash != old_code and code_hash != EMPTY_CODE_HASH:
            codes[code_hash] = bytes(db[code_hash])
        accounts[hashed_address] = AccountChange(
            int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"), code_hash, slots
        )
    return StateChanges(accounts=accounts, codes=codes)
