"""The execution interface: one block in, receipts and the state's write set out.

`BlockExecutor` is what the sequencer and the follower will call to execute a block, so
the EVM behind it can be swapped: `node.engine_revm.RevmExecutor` (revm, through pyrevm)
and `node.engine_pyevm.PyEvmExecutor` (py-evm, the reference in differential tests).

- In: a `StateReader` on the parent state (`TrieState`: our LMDB tries at a state root),
  the block's environment (`BlockEnv`) and its `Transaction`s in order.
- Out: a `BlockResult`: the transactions included, their `Receipt`s (status, gas,
  cumulative gas, logs, bloom), the block's gas and bloom, and its `StateChanges`: every
  account whose nonce, balance, code or storage differs from the parent, keyed as the
  state trie keys them (keccak of the address, keccak of the slot), so that neither the
  engine nor the trie needs preimages. Nothing is written while executing.
- `BlockExecutor.commit` writes a result's state changes into the store and returns the
  state root (`commit_state`: standard Ethereum tries through `node.mpt`), so an engine
  may keep a cache of the state it has just produced. `receipts_root` and
  `transactions_root` are the header's other roots.

Exceptions: `EngineError` (a `NodeError`) when a block cannot be executed at all;
`UnsupportedByEngine` when the engine cannot execute a transaction the way the chain's
rules say (the caller may execute that block with another engine).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any, Protocol

import rlp
from eth_hash.auto import keccak
from trie.constants import BLANK_NODE_HASH

from medledger.node.errors import NodeError
from medledger.node.mpt import (
    NodeCache,
    NodeStore,
    apply_changes,
    lookup,
    ordered_trie_root_and_nodes,
)
from medledger.node.trie_diff import changed_keys

__all__ = [
    "EMPTY_CODE_HASH",
    "PREIMAGE",
    "Account",
    "AccountChange",
    "BlockEnv",
    "BlockExecutor",
    "BlockResult",
    "EngineError",
    "Log",
    "Receipt",
    "StateChanges",
    "StateReader",
    "Transaction",
    "TrieState",
    "UnsupportedByEngine",
    "bloom_of",
    "calldata_floor",
    "commit_state",
    "receipts_root",
    "transactions_root",
    "use_native_keccak",
    "write_preimages",
]

EMPTY_CODE_HASH = keccak(b"")
PREIMAGE = b"ml:pi"  # + keccak(slot): the 32-byte slot
_TX_GAS, _FLOOR_PER_TOKEN, _TOKENS_PER_NONZERO = 21_000, 10, 4


def use_native_keccak() -> None:
    """Hash with safe-pysha3's C keccak, process-wide: eth-hash's shared `keccak` (which
    the tries, py-evm and eth-utils call) otherwise chooses pycryptodome, ~5x slower per
    call. The same digests; called where the node starts work (`node.chain`, the
    engines). Importing `node` installs nothing."""
    try:
        from eth_hash.backends.pysha3 import backend
    except ImportError:  # pragma: no cover - safe-pysha3 is a dependency
        return
    keccak.hasher = backend.keccak256  # type: ignore[assignment]
    keccak.preimage = backend.preimage  # type: ignore[assignment]


def calldata_floor(data: bytes) -> int:
    """EIP-7623 (Prague): the least gas a transaction uses, 21000 + 10 per calldata token (a
    zero byte is one token, any other byte four). A gas limit below it is invalid."""
    zeros = data.count(0)
    return _TX_GAS + _FLOOR_PER_TOKEN * (zeros + (len(data) - zeros) * _TOKENS_PER_NONZERO)


class EngineError(NodeError):
    """A block the engine could not execute (not a transaction that failed in it)."""


class UnsupportedByEngine(EngineError):
    """The engine cannot execute this transaction exactly as the chain's rules say."""


@dataclass(frozen=True, slots=True)
class Account:
    nonce: int
    balance: int
    storage_root: bytes
    code_hash: bytes


class StateReader(Protocol):
    """The parent state of a block."""

    @property
    def state_root(self) -> bytes: ...

    def account(self, address: bytes) -> Account | None: ...

    def storage(self, address: bytes, slot: int) -> int: ...

    def code(self, code_hash: bytes) -> bytes: ...

    def storage_items(self, address: bytes) -> dict[int, int]:
        """Every non-zero slot of the account (needs the slots' preimages)."""
        ...


class TrieState:
    """The state at `state_root` in a node store (trie nodes and code by hash), read with
    `node.mpt.lookup`. `db` is the store itself, for an engine (py-evm) that reads it its
    own way."""

    def __init__(self, db: Any, state_root: bytes, *, nodes: NodeCache | None = None) -> None:
        self.db = db
        self._root = state_root
        self._nodes = nodes
        self._accounts: dict[bytes, Account | None] = {}

    @property
    def state_root(self) -> bytes:
        return self._root

    def account(self, address: bytes) -> Account | None:
        cached = self._accounts.get(address, False)
        if cached is not False:
            return cached  # type: ignore[return-value]
        found = account_at(self.db, self._root, keccak(address), nodes=self._nodes)
        self._accounts[address] = found
        return found

    def storage(self, address: bytes, slot: int) -> int:
        account = self.account(address)
        if account is None or account.storage_root == BLANK_NODE_HASH:
            return 0
        key = keccak(slot.to_bytes(32, "big"))
        raw = lookup(self.db, account.storage_root, key, nodes=self._nodes)
        return int.from_bytes(rlp.decode(raw), "big") if raw else 0

    def code(self, code_hash: bytes) -> bytes:
        return b"" if code_hash == EMPTY_CODE_HASH else bytes(self.db[code_hash])

    def storage_items(self, address: bytes) -> dict[int, int]:
        """Every non-zero slot, by slot number: the storage trie's leaves (keyed by the
        slots' hashes) and the preimages `write_preimages` stored. `EngineError` if one is
        missing (a store whose blocks were written without them)."""
        account = self.account(address)
        if account is None or account.storage_root == BLANK_NODE_HASH:
            return {}
        items: dict[int, int] = {}
        leaves = changed_keys(self.db, BLANK_NODE_HASH, account.storage_root)
        for hashed_slot, (_, value) in leaves.items():
            slot = self.db.get(PREIMAGE + hashed_slot)
            if slot is None:
                raise EngineError(
                    f"the store has no preimage of slot 0x{hashed_slot.hex()} of "
                    f"0x{address.hex()}: its state was written without slot preimages"
                )
            items[int.from_bytes(slot, "big")] = int.from_bytes(rlp.decode(value), "big")
        return items


def write_preimages(db: Any, slots: Iterable[int]) -> None:
    """Store each slot number under its hash (`PREIMAGE` + keccak of the 32-byte slot), so
    an account's storage can be listed by slot (`TrieState.storage_items`)."""
    for slot in slots:
        key = slot.to_bytes(32, "big")
        db[PREIMAGE + keccak(key)] = key


def account_at(
    db: NodeStore, state_root: bytes, hashed_address: bytes, *, nodes: NodeCache | None = None
) -> Account | None:
    raw = lookup(db, state_root, hashed_address, nodes=nodes)
    if not raw:
        return None
    nonce, balance, storage_root, code_hash = rlp.decode(raw)
    return Account(
        int.from_bytes(nonce, "big"), int.from_bytes(balance, "big"), storage_root, code_hash
    )


@dataclass(frozen=True, slots=True)
class BlockEnv:
    """What a block's transactions see of their block. The chain's base fee is zero."""

    number: int
    parent_hash: bytes
    coinbase: bytes
    timestamp: int
    gas_limit: int
    chain_id: int
    prevrandao: bytes = bytes(32)
    base_fee: int = 0

    @classmethod
    def of_header(cls, header: Any, *, chain_id: int) -> BlockEnv:
        """The environment of the block a (py-evm) header heads."""
        return cls(
            number=int(header.block_number),
            parent_hash=bytes(header.parent_hash),
            coinbase=bytes(header.coinbase),
            timestamp=int(header.timestamp),
            gas_limit=int(header.gas_limit),
            chain_id=chain_id,
            prevrandao=bytes(header.mix_hash),
            base_fee=int(header.base_fee_per_gas),
        )


@dataclass(frozen=True, slots=True)
class Transaction:
    """A signed transaction whose sender is recovered. `to` is b"" for a creation;
    `source` is what it was made from (the node's `DecodedTx`)."""

    hash: bytes
    sender: bytes
    nonce: int
    gas: int
    to: bytes
    value: int
    data: bytes
    max_fee: int
    priority_fee: int
    type_id: int
    access_list: tuple[tuple[bytes, tuple[int, ...]], ...] = ()
    authorizations: int = 0
    source: Any = field(default=None, repr=False, compare=False)

    @classmethod
    def of(cls, decoded: Any) -> Transaction:
        """From a `node.evm.DecodedTx` (its `obj` is py-evm's transaction object)."""
        tx = decoded.obj
        type_id = tx.type_id or 0
        if type_id < 2:
            max_fee = priority = int(tx.gas_price)
        else:
            max_fee, priority = int(tx.max_fee_per_gas), int(tx.max_priority_fee_per_gas)
        listed = tx.access_list if type_id else ()
        access = tuple((bytes(a), tuple(int(s) for s in slots)) for a, slots in listed)
        return cls(
            hash=bytes(decoded.hash),
            sender=bytes(decoded.sender),
            nonce=int(tx.nonce),
            gas=int(tx.gas),
            to=bytes(tx.to),
            value=int(tx.value),
            data=bytes(tx.data),
            max_fee=max_fee,
            priority_fee=priority,
            type_id=type_id,
            access_list=access,
            authorizations=len(tx.authorization_list) if type_id == 4 else 0,
            source=decoded,
        )


@dataclass(frozen=True, slots=True)
class Log:
    address: bytes
    topics: tuple[bytes, ...]
    data: bytes


@dataclass(frozen=True, slots=True)
class Receipt:
    type_id: int
    success: bool
    cumulative_gas_used: int
    gas_used: int
    logs: tuple[Log, ...]
    bloom: int
    contract_address: bytes | None = None

    def encode(self) -> bytes:
        """The receipt as the receipts trie holds it (EIP-2718 typed, else plain RLP)."""
        body: bytes = rlp.encode(
            [
                b"\x01" if self.success else b"",
                self.cumulative_gas_used,
                self.bloom.to_bytes(256, "big"),
                [[log.address, list(log.topics), log.data] for log in self.logs],
            ]
        )
        return body if self.type_id == 0 else bytes([self.type_id]) + body


@dataclass(frozen=True, slots=True)
class AccountChange:
    """An account's state after the block. `storage`: hashed slot → new value (0 deletes).
    An account that had storage is never deleted in a block (since Cancun SELFDESTRUCT
    deletes only an account made in the same transaction, and an account with storage is
    never empty), so a change always applies to the parent's storage trie."""

    nonce: int
    balance: int
    code_hash: bytes
    storage: Mapping[bytes, int] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class StateChanges:
    """The block's write set: hashed address → `AccountChange`, or None for an account
    deleted; `codes`: new contract code by its hash."""

    accounts: Mapping[bytes, AccountChange | None]
    codes: Mapping[bytes, bytes] = field(default_factory=dict)


@dataclass(slots=True)
class BlockResult:
    transactions: list[Transaction]
    receipts: list[Receipt]
    state_changes: StateChanges
    gas_used: int
    bloom: int
    dropped: list[tuple[Transaction, str]] = field(default_factory=list)
    deferred: list[Transaction] = field(default_factory=list)

    @property
    def logs(self) -> list[Log]:
        return [log for receipt in self.receipts for log in receipt.logs]


class BlockExecutor(Protocol):
    def execute_block(
        self,
        state: StateReader,
        env: BlockEnv,
        transactions: Sequence[Transaction],
        *,
        strict: bool = False,
        deadline: float | None = None,
    ) -> BlockResult:
        """Execute `transactions` in order on `state`. Not `strict` (building a block): a
        transaction that is invalid on the state reached (stale nonce, cannot pay) or that
        the engine cannot run as the chain's rules say (`UnsupportedByEngine`) is
        `dropped` with the reason, one whose gas exceeds what is left of the block is
        `deferred`, and once `time.monotonic()` passes `deadline` the rest are deferred
        (at least one is run). `strict` (re-executing a published block): either raises
        `EngineError`."""
        ...

    def commit(self, db: Any, parent_root: bytes, result: BlockResult) -> bytes:
        """Write `result`'s state changes into `db` on top of `parent_root`; the new
        state root."""
        ...


def bloom_of(logs: Sequence[Log]) -> int:
    """The 2048-bit log bloom: three bits from keccak of each address and topic."""
    bloom = 0
    for log in logs:
        for item in (log.address, *log.topics):
            digest = keccak(item)
            for i in (0, 2, 4):
                bloom |= 1 << (((digest[i] << 8) | digest[i + 1]) & 2047)
    return bloom


def commit_state(
    db: Any, parent_root: bytes, changes: StateChanges, *, nodes: NodeCache | None = None
) -> bytes:
    """Apply `changes` to the state trie at `parent_root` in `db` (storage tries first,
    then the account trie, each in one pass) and store new code by hash; the new root."""
    for code_hash, code in changes.codes.items():
        db[code_hash] = code
    accounts: dict[bytes, bytes | None] = {}
    for hashed_address, change in changes.accounts.items():
        if change is None:
            accounts[hashed_address] = None
            continue
        old = account_at(db, parent_root, hashed_address, nodes=nodes)
        storage_root = BLANK_NODE_HASH if old is None else old.storage_root
        if change.storage:
            slots = {
                slot: (rlp.encode(value) if value else None)
                for slot, value in change.storage.items()
            }
            storage_root = apply_changes(db, storage_root, slots, nodes=nodes)
        accounts[hashed_address] = rlp.encode(
            [change.nonce, change.balance, storage_root, change.code_hash]
        )
    return apply_changes(db, parent_root, accounts, nodes=nodes)


def receipts_root(receipts: Sequence[Receipt]) -> bytes:
    return ordered_trie_root_and_nodes([receipt.encode() for receipt in receipts])[0]


def transactions_root(raw_transactions: Sequence[bytes]) -> bytes:
    """The root over the transactions' canonical encodings (typed: type byte + RLP)."""
    return ordered_trie_root_and_nodes(list(raw_transactions))[0]
