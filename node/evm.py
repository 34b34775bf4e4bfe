"""Execution on py-evm: genesis, building a block, re-executing a published block, calls.

This module (with `node.evm_reads`) is the only place that imports py-evm (`eth`). py-evm
runs here as it ships (its own opcode loop and tries): it is the reference the revm engine
(`node.engine_revm`, the default) is compared with, it writes the genesis, and it runs
eth_call and eth_estimateGas (`call`, `estimate_gas`) for a node on py-evm and for what
revm leaves to it (`node.revm_calls`).

A block is executed exactly once. `build_block` applies the sequencer's transactions to the
parent's state with the Prague VM, makes the header from the result and persists header,
body, receipts and state into the caller's write buffer; nothing is imported or
re-executed afterwards (py-evm's `MiningChain.mine_all` builds and then imports, running
every transaction twice). `import_block` is the follower's path: the same execution, driven
by a published block, followed by a field-by-field comparison of the header.

Chain rules beyond Prague: the base fee is always zero (free gas), there is no deposit
contract and no beacon root, and timestamps may repeat (several blocks per second).

Budgets: `build_block` stops taking transactions once its `time_budget` is spent and
defers the rest (the follower replays the block's list, so it needs no clock); `call` and
`estimate_gas` raise `TimeBudgetExceeded` once theirs is.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Iterator, Sequence
from contextlib import AbstractContextManager, contextmanager, nullcontext
from dataclasses import dataclass, field
from typing import Any, cast

import rlp
from eth.abc import BlockAPI, BlockHeaderAPI, ReceiptAPI, SignedTransactionAPI
from eth.consensus.context import ConsensusContext
from eth.db.atomic import AtomicDB
from eth.db.chain import ChainDB
from eth.db.trie import make_trie_root_and_nodes
from eth.exceptions import HeaderNotFound
from eth.vm.chain_context import ChainContext
from eth.vm.forks.prague import PragueVM
from eth.vm.forks.prague.blocks import PragueBlock, PragueBlockHeader
from eth.vm.forks.prague.computation import PragueComputation
from eth.vm.forks.prague.constants import DEPOSIT_REQUEST_TYPE
from eth.vm.forks.prague.state import PragueState
from eth.vm.spoof import SpoofTransaction
from eth_typing import Address, BlockNumber, Hash32
from eth_utils import ValidationError

from medledger.node.calls import CallResult, TimeBudgetExceeded, estimate
from medledger.node.errors import DivergenceError, NodeError

__all__ = [
    "SUPPORTED_TX_TYPES",
    "BuiltBlock",
    "CallResult",
    "DecodedTx",
    "GenesisSpec",
    "MedLedgerVM",
    "TimeBudgetExceeded",
    "build_block",
    "call",
    "chaindb_of",
    "decode_transaction",
    "estimate_gas",
    "import_block",
    "init_genesis",
    "time_budget",
    "transaction_type",
]

HEADER_FIELDS = list(PragueBlockHeader._meta.field_names)
LEGACY = 0
# What a member may send: no blob (3) or set-code (4) transactions, whose payloads and
# delegations this chain has no use for.
SUPPORTED_TX_TYPES = {LEGACY: "legacy", 1: "access-list (EIP-2930)", 2: "dynamic-fee (EIP-1559)"}


class MedLedgerVM(PragueVM):
    """Prague without a deposit contract: skip scanning every receipt for deposit logs."""

    def process_deposit_request_data(self, block: BlockAPI) -> None:
        block.block_requests.append(DEPOSIT_REQUEST_TYPE)


# -- the time budget of calls ------------------------------------------------------------

CHECK_EVERY = 4_096  # gas charges (about one per opcode) between looks at the clock
# ecrecover (coincurve), SHA-256, RIPEMD-160 and identity: native code, cheap per gas
FAST_PRECOMPILES = frozenset(n.to_bytes(20, "big") for n in (1, 2, 3, 4))
SLOW_PRECOMPILE_SECONDS_PER_GAS = 25e-6


_clock = threading.local()  # the thread's deadline, and gas charges counted


@contextmanager
def time_budget(seconds: float) -> Iterator[None]:
    """Messages run in this thread by the call VM (`call`, `estimate_gas`) raise
    `TimeBudgetExceeded` once `seconds` have passed."""
    _clock.deadline, _clock.charges = time.monotonic() + seconds, 0
    try:
        yield
    finally:
        _clock.deadline = None


def _within_budget(deadline: float) -> None:
    if time.monotonic() > deadline:
        raise TimeBudgetExceeded("the message ran past its time budget")


class _BudgetedComputation(PragueComputation):
    """Prague's computation, looking at the clock of the thread's `time_budget` on entering
    each frame and every `CHECK_EVERY` gas charges (every opcode charges its gas first).
    A slow precompile is not started when the gas its frame was given could outlast the
    budget: the elliptic-curve pairings, BLAKE2 and the BLS12-381 operations run in pure
    Python (py_ecc) at 5-15 µs per gas they charge, in one call nothing interrupts."""

    @classmethod
    def apply_computation(
        cls, state: Any, message: Any, transaction_context: Any, *args: Any, **kwargs: Any
    ) -> Any:
        deadline: float | None = getattr(_clock, "deadline", None)
        if deadline is not None:
            if message.code_address in cls.get_precompiles() and (
                message.code_address not in FAST_PRECOMPILES
            ):
                deadline -= message.gas * SLOW_PRECOMPILE_SECONDS_PER_GAS
            _within_budget(deadline)
        return super().apply_computation(state, message, transaction_context, *args, **kwargs)

    def consume_gas(self, amount: int, reason: str) -> None:
        deadline: float | None = getattr(_clock, "deadline", None)
        if deadline is not None:
            _clock.charges += 1
            if _clock.charges % CHECK_EVERY == 0:
                _within_budget(deadline)
        super().consume_gas(amount, reason)


class _CallState(PragueState):
    computation_class = _BudgetedComputation


class _CallVM(MedLedgerVM):
    """The VM of `call` and `estimate_gas`: Prague within the thread's time budget."""

    _state_class = _CallState


@dataclass(frozen=True, slots=True)
class GenesisSpec:
    chain_id: int
    gas_limit: int
    timestamp: int
    deployer: bytes
    deployments: tuple[tuple[str, bytes], ...]
    alloc: tuple[tuple[bytes, int], ...] = ()


@dataclass(frozen=True, slots=True)
class DecodedTx:
    """A signed transaction, checked for shape and signature."""

    hash: bytes
    sender: bytes
    nonce: int
    gas: int
    to: bytes
    chain_id: int | None
    max_cost: int
    raw: bytes
    obj: Any = field(repr=False, compare=False)


@dataclass(slots=True)
class BuiltBlock:
    number: int
    hash: bytes
    header: Any
    transactions: list[Any]
    receipts: list[Any]
    senders: list[bytes]
    dropped: list[tuple[DecodedTx, str]] = field(default_factory=list)
    deferred: list[DecodedTx] = field(default_factory=list)


def chaindb_of(db: Any) -> ChainDB:
    """py-evm's chain database over one of `node.store`'s views."""
    return ChainDB(AtomicDB(db))


def transaction_type(raw: bytes) -> int:
    """The EIP-2718 type of a raw transaction (0 for a legacy one, an RLP list)."""
    if not raw:
        raise NodeError("invalid transaction: it is empty")
    first = raw[0]
    if first >= 0xC0:
        return LEGACY
    if first <= 0x7F:
        return first
    raise NodeError(f"invalid transaction: it starts with 0x{first:02x}, neither a type nor a list")


def decode_transaction(raw: bytes) -> DecodedTx:
    """Decode and check a raw signed transaction; `NodeError` names what is wrong."""
    try:
        tx = MedLedgerVM.get_transaction_builder().decode(raw)
    except Exception as exc:  # the decoders' errors for outside bytes are many (a list
        # where an integer belongs is a TypeError, an unknown type a PyEVMError): each
        # means the bytes are no transaction
        raise NodeError(f"invalid transaction: {exc}") from exc
    return check_transaction(tx, raw)


def check_transaction(tx: Any, raw: bytes, *, sender: bytes | None = None) -> DecodedTx:
    """Check a decoded transaction: recover its sender (the one public-key recovery),
    unless `sender` was already recovered from it, and validate its fields."""
    try:
        if sender is None:
            sender = bytes(tx.sender)  # raises for a bad signature
        else:
            tx.__dict__["sender"] = Address(sender)  # py-evm's cached `sender` property
        _validate_recovered(tx)
    except (ValidationError, rlp.DecodingError, rlp.DeserializationError, ValueError) as exc:
        raise NodeError(f"invalid transaction: {exc}") from exc
    except Exception as exc:  # eth-keys raises BadSignature and friends
        raise NodeError(f"invalid transaction signature: {exc}") from exc
    return _decoded(tx, sender, raw)


def decode_admitted(raw: bytes, sender: bytes) -> DecodedTx:
    """A transaction that `decode_transaction` already checked (in the RPC process), decoded
    again for execution without recovering its signer a second time."""
    tx = MedLedgerVM.get_transaction_builder().decode(raw)
    tx.__dict__["sender"] = Address(sender)  # py-evm's cached `sender` property
    return _decoded(tx, sender, raw)


def _decoded(tx: Any, sender: bytes, raw: bytes) -> DecodedTx:
    return DecodedTx(
        hash=tx.hash,
        sender=sender,
        nonce=tx.nonce,
        gas=tx.gas,
        to=bytes(tx.to),
        chain_id=getattr(tx, "chain_id", None),
        max_cost=tx.gas * _max_fee(tx) + tx.value,
        raw=bytes(raw),
        obj=tx,
    )


def _validate_recovered(tx: Any) -> None:
    """py-evm's `validate()` (field ranges, intrinsic gas) for a transaction whose sender is
    already recovered, without its signature check: that check recovers the public key once
    more and verifies the signature against it (eth-keys verifies the low-s form), which
    holds whenever the recovery succeeded. It cost two more elliptic-curve operations and
    a second signing-message encoding per transaction."""
    inner = getattr(tx, "_inner", tx)  # a typed transaction validates its inner payload
    inner.check_signature_validity = _signature_already_checked
    try:
        tx.validate()
    finally:
        del inner.check_signature_validity


def _signature_already_checked() -> None:
    return None


def _max_fee(tx: Any) -> int:
    fee = getattr(tx, "max_fee_per_gas", None)
    return int(tx.gas_price if fee is None else fee)


def _spoof(unsigned: Any, sender: bytes) -> SignedTransactionAPI:
    return cast(SignedTransactionAPI, SpoofTransaction(unsigned, from_=Address(sender)))


def _vm(
    chaindb: ChainDB, header: BlockHeaderAPI, chain_id: int, *, vm_class: type = MedLedgerVM
) -> MedLedgerVM:
    vm: MedLedgerVM = vm_class(
        header, chaindb, ChainContext(chain_id), ConsensusContext(chaindb.db)
    )
    return vm


def _child_header(
    parent: BlockHeaderAPI, *, coinbase: bytes, timestamp: int, gas_limit: int, extra_data: bytes
) -> BlockHeaderAPI:
    return PragueBlockHeader(
        difficulty=0,
        block_number=BlockNumber(parent.block_number + 1),
        gas_limit=gas_limit,
        timestamp=max(timestamp, parent.timestamp),
        coinbase=Address(coinbase),
        parent_hash=parent.hash,
        state_root=parent.state_root,
        extra_data=extra_data,
        base_fee_per_gas=0,
    )


def init_genesis(db: Any, spec: GenesisSpec) -> tuple[bytes, dict[str, bytes]]:
    """Write the genesis block: prefunded accounts and the contract suite, deployed by
    running each constructor from `spec.deployer`. Returns the genesis hash and the
    contract addresses (deterministic: CREATE addresses of the deployer's nonces)."""
    chaindb = chaindb_of(db)
    draft = PragueBlockHeader(
        difficulty=0,
        block_number=BlockNumber(0),
        gas_limit=spec.gas_limit,
        timestamp=spec.timestamp,
    )
    vm = _vm(chaindb, draft, spec.chain_id)
    state = vm.state
    for address, balance in spec.alloc:
        state.set_balance(Address(address), balance)
    addresses: dict[str, bytes] = {}
    for name, initcode in spec.deployments:
        nonce = state.get_nonce(Address(spec.deployer))
        unsigned = vm.create_unsigned_transaction(
            nonce=nonce, gas_price=0, gas=spec.gas_limit, to=Address(b""), value=0, data=initcode
        )
        computation = state.apply_transaction(_spoof(unsigned, spec.deployer))
        if computation.is_error:
            raise NodeError(f"genesis: constructor of {name} failed: {computation.error!r}")
        addresses[name] = bytes(computation.msg.storage_address)
    state.persist()
    header = draft.copy(state_root=state.state_root)
    chaindb.persist_block(PragueBlock(header, transactions=[], uncles=[], withdrawals=[]))
    return header.hash, addresses


def build_block(
    db: Any,
    parent_hash: bytes,
    txs: Sequence[DecodedTx],
    *,
    chain_id: int,
    coinbase: bytes,
    timestamp: int,
    gas_limit: int,
    time_budget: float | None = None,
) -> BuiltBlock:
    """Execute `txs` once on the parent's state and persist the resulting block into `db`.

    Transactions that fail validation (stale nonce, gas above what is left in the block)
    are not included: the former are `dropped` with a reason, the latter `deferred`. Once
    `time_budget` seconds have passed, the rest are deferred too (at least one is run)."""
    chaindb = chaindb_of(db)
    parent = chaindb.get_block_header_by_hash(Hash32(parent_hash))
    header = _child_header(
        parent, coinbase=coinbase, timestamp=timestamp, gas_limit=gas_limit, extra_data=b""
    )
    deadline = None if time_budget is None else time.monotonic() + time_budget
    result = _execute(chaindb, header, txs, chain_id=chain_id, strict=False, deadline=deadline)
    chaindb.persist_block(result.header_block)
    return result.built


def import_block(
    db: Any,
    raw_block: bytes,
    *,
    chain_id: int,
    check_hash: Callable[[bytes], object] | None = None,
    senders: Sequence[bytes] | None = None,
) -> BuiltBlock:
    """Re-execute a published block on our own state and persist it if every header field
    agrees; otherwise raise `DivergenceError` naming the first field that differs.
    `check_hash` sees the published block hash before anything is executed (the seal).
    `senders`, when given, are the transactions' senders as recovered elsewhere."""
    try:
        published = rlp.decode(raw_block, sedes=PragueBlock)
    except (rlp.DecodingError, rlp.DeserializationError) as exc:
        raise DivergenceError(-1, "encoding", "a Prague block", str(exc)) from exc
    ph = published.header
    if check_hash is not None:
        check_hash(ph.hash)
    chaindb = chaindb_of(db)
    try:
        parent = chaindb.get_block_header_by_hash(ph.parent_hash)
    except HeaderNotFound as exc:
        raise DivergenceError(
            ph.block_number, "parent_hash", _show(ph.parent_hash), "unknown parent"
        ) from exc
    tx_root, _ = make_trie_root_and_nodes(published.transactions)
    if tx_root != ph.transaction_root:
        raise DivergenceError(
            ph.block_number, "transaction_root", _show(ph.transaction_root), _show(tx_root)
        )
    txs = []
    if senders is not None and len(senders) != len(published.transactions):
        senders = None
    for index, tx in enumerate(published.transactions):
        try:
            if senders is None:
                txs.append(check_transaction(tx, tx.encode()))
            else:
                txs.append(check_transaction(tx, tx.encode(), sender=senders[index]))
        except NodeError as exc:
            raise DivergenceError(
                ph.block_number, f"transaction {index}", "valid", str(exc)
            ) from exc
    header = _child_header(
        parent,
        coinbase=ph.coinbase,
        timestamp=ph.timestamp,
        gas_limit=ph.gas_limit,
        extra_data=ph.extra_data,
    )
    if ph.timestamp < parent.timestamp:
        raise DivergenceError(ph.block_number, "timestamp", str(ph.timestamp), "before parent")
    result = _execute(chaindb, header, txs, chain_id=chain_id, strict=True)
    ours = result.header_block.header
    for name in HEADER_FIELDS:
        expected, actual = getattr(ph, name), getattr(ours, name)
        if expected != actual:
            raise DivergenceError(ph.block_number, name, _show(expected), _show(actual))
    chaindb.persist_block(result.header_block)
    return result.built


def _show(value: Any) -> str:
    return "0x" + value.hex() if isinstance(value, bytes) else str(value)


@dataclass(slots=True)
class _Executed:
    header_block: Any
    built: BuiltBlock


def _execute(
    chaindb: ChainDB,
    header: BlockHeaderAPI,
    txs: Sequence[DecodedTx],
    *,
    chain_id: int,
    strict: bool,
    deadline: float | None = None,
) -> _Executed:
    vm = _vm(chaindb, header, chain_id)
    block = vm.get_block()
    vm.block_preprocessing(block)
    current = header
    applied: list[SignedTransactionAPI] = []
    receipts: list[ReceiptAPI] = []
    senders: list[bytes] = []
    dropped: list[tuple[DecodedTx, str]] = []
    deferred: list[DecodedTx] = []
    for index, tx in enumerate(txs):
        if deadline is not None and applied and time.monotonic() > deadline:
            deferred.extend(txs[index:])  # in order: one sender's nonces stay in sequence
            break
        if not strict and current.gas_used + tx.gas > header.gas_limit:
            deferred.append(tx)
            continue
        try:
            receipt, _ = vm.apply_transaction(current, tx.obj)
        except ValidationError as exc:
            if strict:
                raise DivergenceError(
                    header.block_number, f"transaction {len(applied)}", "valid", str(exc)
                ) from exc
            dropped.append((tx, str(exc)))
            continue
        current = vm.add_receipt_to_header(current, receipt)
        applied.append(tx.obj)
        receipts.append(receipt)
        senders.append(tx.sender)
    filled = vm.set_block_transactions_and_withdrawals(block, current, applied, receipts)
    processed = vm.block_postprocessing(filled)
    final = vm.finalize_block(processed).block
    built = BuiltBlock(
        number=final.number,
        hash=final.hash,
        header=final.header,
        transactions=applied,
        receipts=receipts,
        senders=senders,
        dropped=dropped,
        deferred=deferred,
    )
    return _Executed(final, built)


def _call_vm(db: Any, head_hash: bytes, chain_id: int, timestamp: int) -> MedLedgerVM:
    chaindb = chaindb_of(db)
    head = chaindb.get_block_header_by_hash(Hash32(head_hash))
    header = _child_header(
        head, coinbase=head.coinbase, timestamp=timestamp, gas_limit=head.gas_limit, extra_data=b""
    )
    return _vm(chaindb, header, chain_id, vm_class=_CallVM)


def _run(
    vm: MedLedgerVM, *, sender: bytes, to: bytes, data: bytes, value: int, gas: int
) -> CallResult:
    state = vm.state
    unsigned = vm.create_unsigned_transaction(
        nonce=state.get_nonce(Address(sender)),
        gas_price=0,
        gas=gas,
        to=Address(to),
        value=value,
        data=data,
    )
    snapshot = state.snapshot()
    try:
        computation = state.apply_transaction(_spoof(unsigned, sender))
    except ValidationError as exc:
        return CallResult(False, b"", 0, str(exc))
    finally:
        state.revert(snapshot)
    used = gas - computation.get_gas_remaining()
    if computation.is_error:
        error = computation.error
        reason = "execution reverted" if computation.output else repr(error)
        return CallResult(False, bytes(computation.output), used, reason)
    return CallResult(True, bytes(computation.output), used, "")


def call(
    db: Any,
    head_hash: bytes,
    *,
    chain_id: int,
    timestamp: int,
    sender: bytes,
    to: bytes,
    data: bytes,
    value: int,
    gas: int,
    seconds: float | None = None,
) -> CallResult:
    """Run a message on top of block `head_hash`, as if in the next block; with `seconds`,
    `TimeBudgetExceeded` once that much time has passed."""
    with _budget(seconds):
        vm = _call_vm(db, head_hash, chain_id, timestamp)
        return _run(vm, sender=sender, to=to, data=data, value=value, gas=gas)


def _budget(seconds: float | None) -> AbstractContextManager[None]:
    return nullcontext() if seconds is None else time_budget(seconds)


def estimate_gas(
    db: Any,
    head_hash: bytes,
    *,
    chain_id: int,
    timestamp: int,
    sender: bytes,
    to: bytes,
    data: bytes,
    value: int,
    gas_cap: int,
    seconds: float | None = None,
) -> CallResult:
    """The gas a transaction needs: one run at the cap, then a check at the measured gas
    plus the 1/64 that calls withhold; a binary search only if that check fails; at least
    the EIP-7623 calldata floor, below which admission refuses the transaction. With
    `seconds`, `TimeBudgetExceeded` once that much time has passed over all the runs."""
    with _budget(seconds):
        return _estimate(
            _call_vm(db, head_hash, chain_id, timestamp),
            sender=sender,
            to=to,
            data=data,
            value=value,
            gas_cap=gas_cap,
        )


def _estimate(
    vm: MedLedgerVM, *, sender: bytes, to: bytes, data: bytes, value: int, gas_cap: int
) -> CallResult:
    def run(gas: int) -> CallResult:
        return _run(vm, sender=sender, to=to, data=data, value=value, gas=gas)

    return estimate(run, data=data, gas_cap=gas_cap)
