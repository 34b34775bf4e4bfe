"""The sequencer's intake: admission, the mempool, and handing out batches for blocks.

Admission (`submit`, called from RPC threads) decodes the raw transaction (the one
signature recovery), checks chain id and gas, then the sender: `Partners.mayTransact` must
be true at the current head (an active member, a platform relayer, or the current admin,
initially the bootstrap admin). Answers are cached per account and are only ever computed
under the intake lock. When a committed block emitted a log from Partners, `block_done`
clears the cache and evicts the pending transactions of accounts no longer admitted, under
the same lock and before the next batch is handed out, so a member suspended in block N has
nothing in block N+1 or later.

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

from node import evm, evm_reads, records
from node.chain import ChainView
from node.config import NodeConfig
from node.errors import INVALID_PARAMS, TX_REJECTED, AdmissionError, NodeError, RpcError
from node.mempool import Mempool

__all__ = ["BlockOutcome", "Intake"]

IS_ACTIVE = keccak(text="isActive(address)")[:4]
MAY_TRANSACT = keccak(text="mayTransact(address)")[:4]
MAX_DROPPED_REMEMBERED = 100_000


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
        self._partners = chain.contracts["Partners"]
        self._partners_hex = "0x" + self._partners.hex()
        self._dropped: dict[bytes, str] = {}
        self._in_flight: list[evm.DecodedTx] = []
        self._stopping = False

    # ------------------------------------------------------------ admission

    def submit(self, raw: bytes) -> bytes:
        try:
            tx = evm.decode_transaction(raw)
        except NodeError as exc:
            raise RpcError(INVALID_PARAMS, str(exc)) from exc
        if tx.chain_id is None:
            raise RpcError(TX_REJECTED, "transaction is not replay-protected (no chain id)")
        if tx.chain_id != self.config.chain_id:
            raise RpcError(
                TX_REJECTED,
                f"wrong chain id {tx.chain_id}: this chain is {self.config.chain_id}",
            )
        if tx.gas > self.config.block_gas_limit:
            raise RpcError(
                TX_REJECTED,
                f"gas {tx.gas} exceeds the block gas limit {self.config.block_gas_limit}",
            )
        with self.chain.snapshot() as snap:
            if records.Reader(snap).receipt(tx.hash) is not None:
                raise RpcError(TX_REJECTED, f"already known: transaction 0x{tx.hash.hex()}")
        self._check_member(tx.sender)
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
        with self.chain.snapshot() as snap:
            result = evm.call(
                snap,
                evm_reads.head_hash(snap),
                chain_id=self.config.chain_id,
                timestamp=int(time.time()),
                sender=bytes(20),
                to=self._partners,
                data=selector + bytes(12) + account,
                value=0,
                gas=1_000_000,
            )
        if not result.success or len(result.output) != 32:
            return None
        return int.from_bytes(result.output, "big") == 1

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
        for sender in self.mempool.senders():
            if not self._may_send(sender):
                for tx in self.mempool.evict_sender(sender):
                    self._dropped[tx.hash] = "sender is no longer an active member"

    def _forget_old_drops(self) -> None:
        if len(self._dropped) > MAX_DROPPED_REMEMBERED:
            self._dropped.clear()
