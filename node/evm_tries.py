"""py-evm's trie reads and persistence through `node.mpt`: each trie node of a block
written once, and reads walked without py-trie.

`install` hooks it in process-wide; `node.speedups.install` calls it when the node starts
work (never an import).

- Transactions, receipts and withdrawals tries: `make_trie_root_and_nodes`, where py-evm's
  block code imports it (`eth.vm.base`, `eth.db.chain`), builds each trie bottom-up.
- Storage tries: `BatchedStorageLookup` replaces `eth.db.storage.StorageLookup` (one per
  account, made by `AccountStorageDB`). It collects a block's slot writes and deletes and
  applies them in one pass when the root is needed (`get_changed_root`, `commit_to`,
  `new_trie`); reads see the collected values first, then `node.mpt.lookup`.
- The account trie: `AccountDB.make_state_root` applies its squashed account diff in one
  pass instead of one `HexaryTrie` write per account, and `LookupHashTrie` (its
  `HashTrie`) reads accounts with `node.mpt.lookup`.

Reads and writes share one `NodeCache` (decoded nodes by hash, bounded): a block's reads
decode the paths its writes then rewrite, and the nodes its writes store are the ones the
next block reads first.
It answers for a node a database no longer holds (a discarded block's), where py-trie
would raise `MissingTrieNode`; only a root that was never committed can reach such nodes.

The results are py-evm's (`tests/node/test_mpt.py`). `py_evm_tries` restores py-evm's own
code for the objects made while it is open (`node.evm`'s reference path); objects keep the
code they were made with, and both give the same roots, so other threads are unaffected.
"""

from __future__ import annotations

import threading
from collections.abc import Iterable, Iterator
from contextlib import contextmanager
from functools import lru_cache
from typing import Any, cast

import eth.db.account
import eth.db.chain
import eth.db.storage
import eth.vm.base
from eth.db.account import AccountDB
from eth.db.diff import DBDiff
from eth.db.hash_trie import HashTrie
from eth.db.storage import StorageLookup
from eth.vm.interrupt import MissingAccountTrieNode, MissingStorageTrieNode
from eth_hash.auto import keccak
from eth_typing import Hash32
from trie.exceptions import MissingTrieNode

from medledger.node.mpt import NodeCache, apply_changes, lookup, ordered_trie_root_and_nodes

__all__ = [
    "BatchedStorageLookup",
    "LookupHashTrie",
    "install",
    "make_trie_root_and_nodes",
    "py_evm_tries",
]

# Up to 2 x 8192 nodes, about 20 MB at most (a branch of 16 hashes is about 1.2 kB).
_NODES = NodeCache(size=1 << 13)


def make_trie_root_and_nodes(items: Iterable[Any]) -> tuple[Hash32, dict[Hash32, bytes]]:
    """`eth.db.trie.make_trie_root_and_nodes`: `items` are transactions, receipts or
    withdrawals (anything with `encode()`)."""
    root, nodes = _ordered_root(tuple(item.encode() for item in items))
    return Hash32(root), cast(dict[Hash32, bytes], nodes)


# Importing a block computes its transactions root twice (checked, then set).
_ordered_root = lru_cache(maxsize=128)(ordered_trie_root_and_nodes)


class BatchedStorageLookup(StorageLookup):
    """`StorageLookup` applying its pending slot changes to the trie in one pass."""

    _pending: dict[bytes, bytes]  # hashed slot → RLP value, b"" for a delete

    def _initialize_to_root_hash(self, root_hash: Hash32) -> None:
        super()._initialize_to_root_hash(root_hash)
        self._pending = {}

    def __getitem__(self, key: bytes) -> bytes:
        hashed_slot = self._decode_key(key)
        if self._pending:
            value = self._pending.get(hashed_slot)
            if value is not None:
                return value  # b"" for a deleted slot, as py-trie reads a missing key
        try:
            return self._read(hashed_slot)
        except MissingTrieNode as exc:
            raise self._missing(exc) from exc

    def _exists(self, key: bytes) -> bool:
        hashed_slot = self._decode_key(key)
        if self._pending:
            value = self._pending.get(hashed_slot)
            if value is not None:
                return value != b""
        return self._read(hashed_slot) != b""  # MissingTrieNode as it is, as py-evm's

    def _read(self, hashed_slot: bytes) -> bytes:
        """The slot in the trie `_get_read_trie` would open."""
        write_trie = self._write_trie
        if write_trie is None:
            return lookup(self._db, self._starting_root_hash, hashed_slot, nodes=_NODES)
        return lookup(write_trie.db, write_trie.root_hash, hashed_slot, nodes=_NODES)

    def _missing(self, exc: MissingTrieNode) -> MissingStorageTrieNode:
        return MissingStorageTrieNode(
            Hash32(exc.missing_node_hash),
            self._starting_root_hash,
            Hash32(exc.requested_key),
            exc.prefix,
            self._address,
        )

    def __setitem__(self, key: bytes, value: bytes) -> None:
        self._get_write_trie()  # has_changed_root from the first write on, as py-evm's
        self._pending[self._decode_key(key)] = value

    def __delitem__(self, key: bytes) -> None:
        self._get_write_trie()
        self._pending[self._decode_key(key)] = b""

    def get_changed_root(self) -> Hash32:
        self._flush()
        return super().get_changed_root()

    def commit_to(self, db: Any) -> None:
        self._flush()
        super().commit_to(db)

    def new_trie(self) -> int:
        self._flush()
        return super().new_trie()

    def rollback_trie(self, trie_index: int) -> None:
        super().rollback_trie(trie_index)
        self._pending = {}  # they were made on the trie rolled back from

    def _flush(self) -> None:
        if not self._pending:
            return
        write_trie = self._get_write_trie()
        try:
            root = apply_changes(
                self._trie_nodes_batch, write_trie.root_hash, self._pending, nodes=_NODES
            )
        except MissingTrieNode as exc:
            raise self._missing(exc) from exc
        write_trie.root_hash = root
        self._pending = {}


def _apply_account_diff(self: AccountDB, diff: DBDiff, trie: Any) -> None:
    """`AccountDB._apply_account_diff_without_proof` in one pass: `trie` is the account
    trie (keyed by address, hashed underneath) open in `squash_changes`."""
    changes: dict[bytes, bytes | None] = {trie.keymap(key): None for key in diff.deleted_keys()}
    changes.update((trie.keymap(key), value) for key, value in diff.pending_items())
    try:
        trie.root_hash = apply_changes(trie.db, trie.root_hash, changes, nodes=_NODES)
    except MissingTrieNode as exc:
        raise MissingAccountTrieNode(
            Hash32(exc.missing_node_hash), self._root_hash_at_last_persist, exc.requested_key
        ) from exc


class LookupHashTrie(HashTrie):
    """`HashTrie` (`AccountDB`'s account trie: address → account RLP, keyed by the
    address's hash) reading accounts with `node.mpt.lookup`."""

    def __getitem__(self, key: bytes) -> bytes:
        trie = cast(Any, self._db)  # a HexaryTrie
        return lookup(trie.db, trie.root_hash, keccak(key), nodes=_NODES)

    def __contains__(self, key: bytes) -> bool:  # type: ignore[override]
        return self[key] != b""


_HOOKS: list[tuple[Any, str, Any]] = [
    (eth.vm.base, "make_trie_root_and_nodes", make_trie_root_and_nodes),
    (eth.db.chain, "make_trie_root_and_nodes", make_trie_root_and_nodes),
    (eth.db.storage, "StorageLookup", BatchedStorageLookup),
    (eth.db.account, "HashTrie", LookupHashTrie),
    (AccountDB, "_apply_account_diff_without_proof", _apply_account_diff),
]
_ORIGINALS = [(target, name, getattr(target, name)) for target, name, _ in _HOOKS]


class _Switch:
    """Whether the hooks are in: installed, and not inside any `py_evm_tries`."""

    lock = threading.Lock()
    installed = False
    suspended = 0

    @classmethod
    def apply(cls) -> None:
        hooks = _HOOKS if cls.installed and not cls.suspended else _ORIGINALS
        for target, name, value in hooks:
            setattr(target, name, value)


def install() -> None:
    with _Switch.lock:
        _Switch.installed = True
        _Switch.apply()


@contextmanager
def py_evm_tries() -> Iterator[None]:
    """py-evm's own trie code for the objects made inside (a reference to compare with)."""
    with _Switch.lock:
        _Switch.suspended += 1
        _Switch.apply()
    try:
        yield
    finally:
        with _Switch.lock:
            _Switch.suspended -= 1
            _Switch.apply()
