"""The sequencer's intake: admission, the mempool, and handing out batches for blocks.

Admission (`submit`, called from RPC threads) checks, in this order:

- the raw transaction's size (`max_tx_bytes`) and type: legacy, access-list or
  dynamic-fee only (no blobs, no EIP-7702 delegations); then it decodes it (the one
  signature recovery) and checks the chain id;
- the sender: `Partners.mayTransact` must be true at the current head (an active member,
  a platform relayer, or the current admin, initially the bootstrap admin);
- the execution budget: gas is free, so nothing but admission bounds what one
  transaction makes the chain do. Its gas must be within `max_tx_gas` and at least
  EIP-7623's calldata floor (`node.engine.calldata_floor`: below it a transaction is
  invalid in Prague); its access list must be empty (revm, `node.engine_revm`, cannot run
  one exactly as py-evm does, so a revm follower of a block holding one would diverge);
  it may not go
  straight to a precompile (py-evm runs the pairings, BLAKE2 and BLS12-381 in pure Python,
  minutes for 30M gas); and only the consortium admin (`Partners.defaultAdmin`) may create
  a contract, so every contract a member can reach was deployed in the genesis or by the
  admin, whose functions bound their loops (at most 500 items a call, docs/GAS.md).

Answers (and the admin) are cached and only ever computed under the intake lock. When a
committed block emitted a log from Partners, `block_done` clears the cache and evicts the
pending transactions of accounts no longer admitted, under the same lock and before the
next batch is handed out, so a member suspended in block N has nothing in block N+1 or
later. Every refusal names its reason (`node.errors.Reason`) and the limit it hit.

`next_batch` hands out a batch as soon as `batch_size` transactions are ready or
`block_interval_ms` has passed since the oldest ready one arrived; it never hands out an
empty one. The block maker (`node.sequencer`) settles each batch with `block_done` or
`block_failed` before it asks for the next. The intake only reads the chain, so it can run
in another process than the block maker (`node.front`).
"""

from __future__ import annotations

import threading
import time
from dataclasses import dataclass
from typing import Any

from eth_utils import keccak

from medledger.node import evm, evm_reads, records
from medledger.node.chain import ChainView
from medledger.node.config import NodeConfig
from medledger.node.engine import calldata_floor
from medledger.node.errors import (
    INVALID_PARAMS,
    TX_REJECTED,
    AdmissionError,
    NodeError,
    Reason,
    Refused,
    RpcError,
)
from medledger.node.mempool import Mempool

__all__ = ["BlockOutcome", "Intake", "transaction_too_large"]

IS_ACTIVE = keccak(text="isActive(address)")[:4]
MAY_TRANSACT = keccak(text="mayTransact(address)")[:4]
DEFAULT_ADMIN = keccak(text="defaultAdmin()")[:4]
LAST_RESERVED_ADDRESS = 0xFFFF  # precompiles (0x1-0x11 in Prague) and room for more
MAX_DROPPED_REMEMBERED = 100_000
MAX_ANSWERS_CACHED = 100_000


def transaction_too_large(size: int, limit: int) -> Refused:
    return Refused(
        INVALID_PARAMS,
        Reason.TX_SIZE,
        f"transaction size {size:,} bytes exceeds the limit {limit:,}",
        limit=limit,
    )


@dataclass(frozen=True, slots=True)
class BlockOutcome:
    """What became of a batch, by transaction hash: small enough to cross processes."""

    number: int
    log_addresses: frozenset[str]
    dropped: tuple[tuple[bytes, str], ...]
    deferred: tuple[bytes, ...]


class Intake:
    def __init__(self, chain: ChainView, config: NodeConfig, *, authority: str) -> None:
        self.chain = chain
        self.config = config
        self.authority = authority
        self.mempool = Mempool(limit=config.mempool_limit)
        self.blocks_made = 0
        self._cond = threading.Condition()
        self._active: dict[bytes, bool] = {}
        self._admin = bytes.fromhex(config.bootstrap_admin[2:])
        self._current_admin: bytes | None = None  # Partners.defaultAdmin, cached
        self._partners = chain.contracts["Partners"]
        self._partners_hex = "0x" + self._partners.hex()
        self._dropped: dict[bytes, str] = {}
        self._in_flight: list[evm.DecodedTx] = []
        self._stopping = False

    # ------------------------------------------------------------ admission

    def submit(self, raw: bytes) -> bytes:
        tx = self._decode(raw)
        if tx.chain_id is None:
            raise RpcError(TX_REJECTED, "transaction is not replay-protected (no chain id)")
        if tx.chain_id != self.config.chain_id:
            raise RpcError(
                TX_REJECTED,
                f"wrong chain id {tx.chain_id}: this chain is {self.config.chain_id}",
            )
        self._check_member(tx.sender)
        self._check_budget(tx)
        with self.chain.snapshot() as snap:
            if records.Reader(snap).receipt(tx.hash) is not None:
                raise RpcError(TX_REJECTED, f"already known: transaction 0x{tx.hash.hex()}")
        if tx.max_cost:
            with self.chain.snapshot() as snap:
                balance = evm_reads.state_balance(snap, evm_reads.head_hash(snap), tx.sender)
            if balance < tx.max_cost:
                raise RpcError(
                    TX_REJECTED,
                    f"insufficient funds: 0x{tx.sender.hex()} has {balance} wei, the transaction "
                    f"may cost {tx.max_cost} (gas is free here: send with gas price 0)",
                )
        with self._cond:
            self._check_member(tx.sender)  # again: a block may have suspended it meanwhile
            self.mempool.add(tx, lambda: self._state_nonce(tx.sender))
            self._cond.notify()
        return tx.hash

    def _decode(self, raw: bytes) -> evm.DecodedTx:
        if len(raw) > self.config.max_tx_bytes:
            raise transaction_too_large(len(raw), self.config.max_tx_bytes)
        try:
            kind = evm.transaction_type(raw)
            if kind not in evm.SUPPORTED_TX_TYPES:
                names = ", ".join(f"0x{t:x} {n}" for t, n in evm.SUPPORTED_TX_TYPES.items())
                raise Refused(
                    INVALID_PARAMS,
                    Reason.TX_TYPE,
                    f"transaction type 0x{kind:02x} is not accepted on this chain ({names})",
                )
            return evm.decode_transaction(raw)
        except Refused:
            raise
        except NodeError as exc:
            raise RpcError(INVALID_PARAMS, str(exc)) from exc

    def _check_budget(self, tx: evm.DecodedTx) -> None:
        """The per-transaction gas cap, the block gas limit, the calldata floor, no access
        list, and who may create contracts."""
        limit = min(self.config.max_tx_gas, self.config.block_gas_limit)
        if tx.gas > limit:
            raise Refused(
                TX_REJECTED,
                Reason.TX_GAS,
                f"transaction gas {tx.gas} exceeds the per-transaction limit {limit}",
                limit=limit,
            )
        floor = calldata_floor(bytes(tx.obj.data))
        if tx.gas < floor:
            raise Refused(
                TX_REJECTED,
                Reason.CALLDATA_FLOOR,
                f"transaction gas {tx.gas} is below its calldata floor {floor} (EIP-7623: "
                "21000 + 10 per calldata token, a zero byte one token and any other four)",
                limit=floor,
            )
        if tx.obj.type_id and tx.obj.access_list:
            raise Refused(
                TX_REJECTED,
                Reason.ACCESS_LIST,
                "transactions with an access list are not accepted on this chain (the revm "
                "engine cannot run them exactly as the reference does): send an empty one",
            )
        if tx.to and int.from_bytes(tx.to, "big") <= LAST_RESERVED_ADDRESS:
            raise Refused(
                TX_REJECTED,
                Reason.PRECOMPILE,
                f"transactions to 0x{tx.to.hex()} are not accepted: addresses up to "
                f"0x{LAST_RESERVED_ADDRESS:x} are reserved for precompiled contracts, which "
                "run here in pure Python for far longer than their gas suggests",
            )
        if not tx.to:
            admin = self._admin_now()
            if tx.sender != admin:
                raise Refused(
                    TX_REJECTED,
                    Reason.CONTRACT_CREATION,
                    f"contract creation is reserved to the consortium admin 0x{admin.hex()}; "
                    f"0x{tx.sender.hex()} may call the consortium's contracts",
                )

    def _admin_now(self) -> bytes:
        """Partners.defaultAdmin at the head (the bootstrap admin for a genesis suite
        without it), cached until a block touches Partners."""
        with self._cond:
            if self._current_admin is None:
                self._current_admin = self._partners_address(DEFAULT_ADMIN) or self._admin
            return self._current_admin

    def _check_member(self, sender: bytes) -> None:
        with self._cond:
            allowed = self._may_send(sender)
        if not allowed:
            raise AdmissionError(
                f"sender 0x{sender.hex()} is not an active member of the consortium, a "
                "platform relayer or the admin (Partners.mayTransact is false)"
            )

    def pending_nonce(self, sender: bytes) -> int:
        with self._cond:
            return self.mempool.pending_nonce(sender, lambda: self._state_nonce(sender))

    def transaction_status(self, tx_hash: bytes) -> dict[str, str] | None:
        """ "pending" while in the mempool or in flight, "dropped" with the reason when it
        will never be mined; None when the intake does not know it (see the receipt)."""
        with self._cond:
            reason = self._dropped.get(tx_hash)
            if reason is not None:
                return {"status": "dropped", "reason": reason}
            if tx_hash in self.mempool.known:
                return {"status": "pending"}
        return None

    def status(self) -> dict[str, Any]:
        return {
            "role": "sequencer",
            "authority": self.authority,
            "mempool": len(self.mempool),
            "lag_blocks": 0,
            "blocksMade": self.blocks_made,
        }

    def _state_nonce(self, sender: bytes) -> int:
        with self.chain.snapshot() as snap:
            return evm_reads.state_nonce(snap, evm_reads.head_hash(snap), sender)

    def _may_send(self, sender: bytes) -> bool:
        cached = self._active.get(sender)
        if cached is None:
            cached = self._is_admitted(sender)
            if len(self._active) >= MAX_ANSWERS_CACHED:  # strangers' keys cost nothing
                self._active.clear()
            self._active[sender] = cached
        return cached

    def _is_admitted(self, account: bytes) -> bool:
        """`Partners.mayTransact` at the head (active member, platform relayer or the
        current admin); for a genesis suite without it, `isActive` or the bootstrap admin."""
        may = self._partners_call(MAY_TRANSACT, account)
        if may is not None:
            return may
        return account == self._admin or bool(self._partners_call(IS_ACTIVE, account))

    def _partners_call(self, selector: bytes, account: bytes) -> bool | None:
        output = self._partners_view(selector + bytes(12) + account)
        return None if output is None else int.from_bytes(output, "big") == 1

    def _partners_address(self, selector: bytes) -> bytes | None:
        output = self._partners_view(selector)
        return None if output is None else output[12:]

    def _partners_view(self, calldata: bytes) -> bytes | None:
        """A one-word view of Partners at the head, or None if it has no such view."""
        with self.chain.snapshot() as snap:
            result = evm.call(
                snap,
                evm_reads.head_hash(snap),
                chain_id=self.config.chain_id,
                timestamp=int(time.time()),
                sender=bytes(20),
                to=self._partners,
                data=calldata,
                value=0,
                gas=1_000_000,
            )
        if not result.success or len(result.output) != 32:
            return None
        return result.output

    # ------------------------------------------------------------ batches

    def next_batch(self) -> list[evm.DecodedTx] | None:
        """Wait for the next batch (None once `stop` was called). The previous batch must
        have been settled."""
        interval = self.config.block_interval_ms / 1000
        with self._cond:
            assert not self._in_flight, "the previous batch was not settled"
            while not self._stopping:
                while not self.mempool.ready and not self._stopping:
                    self._cond.wait(0.5)
                oldest = self.mempool.oldest_ready()
                while (
                    oldest is not None
                    and len(self.mempool.ready) < self.config.batch_size
                    and not self._stopping
                ):
                    remaining = oldest + interval - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch = self.mempool.take(self.config.batch_size)
                if batch:
                    self._in_flight = batch
                    return batch
            return None

    def block_done(self, outcome: BlockOutcome) -> None:
        """Settle the batch in flight once its block is durably committed."""
        with self._cond:
            batch, self._in_flight = self._in_flight, []
            self.blocks_made += 1
            if self._partners_hex in outcome.log_addresses:
                self._membership_changed()
            reasons = dict(outcome.dropped)
            deferred = set(outcome.deferred)
            dropped = [tx for tx in batch if tx.hash in reasons]
            for tx in dropped:
                self._dropped[tx.hash] = reasons[tx.hash]
            self.mempool.requeue([tx for tx in batch if tx.hash in deferred])
            mined = [tx for tx in batch if tx.hash not in deferred and tx.hash not in reasons]
            self.mempool.settle(mined, dropped)
            self._forget_old_drops()

    def block_failed(self, reason: str) -> None:
        """The block holding the batch in flight could not be built: its transactions are
        dropped."""
        with self._cond:
            batch, self._in_flight = self._in_flight, []
            for tx in batch:
                self._dropped[tx.hash] = reason
            self.mempool.settle([], batch)
            self._forget_old_drops()

    def stop(self) -> None:
        with self._cond:
            self._stopping = True
            self._cond.notify_all()

    def _membership_changed(self) -> None:
        """A block touched Partners: forget the cached answers and evict senders that are
        no longer admitted (runs under the lock, before the next batch is handed out)."""
        self._active.clear()
        self._current_admin = None
        for sender in self.mempool.senders():
            if not self._may_send(sender):
                for tx in self.mempool.evict_sender(sender):
                    self._dropped[tx.hash] = "sender is no longer an active member"

    def _forget_old_drops(self) -> None:
        if len(self._dropped) > MAX_DROPPED_REMEMBERED:
            self._dropped.clear()
