"""The authority's sequencer: admission, batching into blocks, sealing.

Admission (`submit`, called from RPC threads) decodes the raw transaction, checks chain id
and gas, then the sender: `Partners.mayTransact` must be true at the current head (an
active member, a platform relayer, or the current admin, initially the bootstrap admin).
Answers are cached per account until a block emits a log from Partners; then, under the
admission lock and right after that block's commit, the cache is cleared and pending
transactions of accounts no longer admitted are evicted, so a member suspended in block N
has nothing in block N+1 or later.

The block loop (one thread) makes a block as soon as `batch_size` transactions are ready
or `block_interval_ms` has passed since the oldest ready one arrived. It never makes empty
blocks.
"""

from __future__ import annotations

import logging
import threading
import time

from eth_utils import keccak

from node import evm, evm_reads, records
from node.chain import Chain, Committed
from node.config import NodeConfig
from node.errors import INVALID_PARAMS, TX_REJECTED, AdmissionError, NodeError, RpcError
from node.mempool import Mempool
from node.seal import Sealer

__all__ = ["Sequencer"]

log = logging.getLogger("medledger.node.sequencer")
IS_ACTIVE = keccak(text="isActive(address)")[:4]
MAY_TRANSACT = keccak(text="mayTransact(address)")[:4]


class Sequencer:
    def __init__(self, chain: Chain, config: NodeConfig, sealer: Sealer) -> None:
        if sealer.address not in config.authorities:
            raise NodeError(
                f"the authority key is for {sealer.address}, which is not in the genesis "
                f"authority set ({', '.join(config.authorities)})"
            )
        self.chain = chain
        self.config = config
        self.sealer = sealer
        self.mempool = Mempool(limit=config.mempool_limit)
        self._cond = threading.Condition()
        self._active: dict[bytes, bool] = {}
        self._admin = bytes.fromhex(config.bootstrap_admin[2:])
        self._partners = chain.contracts["Partners"]
        self._partners_hex = "0x" + self._partners.hex()
        self._dropped: dict[bytes, str] = {}
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="sequencer", daemon=True)
        self.blocks_made = 0

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        with self._cond:
            self._cond.notify_all()
        self._thread.join(timeout=30)

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
        will never be mined; None when the sequencer does not know it (see the receipt)."""
        with self._cond:
            reason = self._dropped.get(tx_hash)
            if reason is not None:
                return {"status": "dropped", "reason": reason}
            if tx_hash in self.mempool.known:
                return {"status": "pending"}
        return None

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

    # ------------------------------------------------------------ blocks

    def _run(self) -> None:
        interval = self.config.block_interval_ms / 1000
        while not self._stop.is_set():
            with self._cond:
                while not self.mempool.ready and not self._stop.is_set():
                    self._cond.wait(0.5)
                oldest = self.mempool.oldest_ready()
                while (
                    oldest is not None
                    and len(self.mempool.ready) < self.config.batch_size
                    and not self._stop.is_set()
                ):
                    remaining = oldest + interval - time.monotonic()
                    if remaining <= 0:
                        break
                    self._cond.wait(remaining)
                batch = self.mempool.take(self.config.batch_size)
            if not batch:
                continue
            started = time.monotonic()
            try:
                committed = self.chain.produce(
                    batch,
                    timestamp=int(time.time()),
                    sealer=self.sealer,
                    guard=self._cond,
                    on_commit=self._membership_changes,
                )
            except Exception:
                log.exception("building a block failed; its transactions are dropped")
                with self._cond:
                    for tx in batch:
                        self._dropped[tx.hash] = "the block that held it failed to build"
                    self.mempool.settle([], batch)
                continue
            log.debug(
                "block %d: %d transactions in %.0f ms",
                committed.number,
                len(committed.tx_hashes),
                (time.monotonic() - started) * 1000,
            )
            self._after_block(batch, committed)

    def _membership_changes(self, committed: Committed) -> None:
        """Runs under the admission lock, right after the commit: a block that touched
        Partners clears the membership cache and evicts senders no longer active."""
        if self._partners_hex not in committed.log_addresses:
            return
        self._active.clear()
        for sender in self.mempool.senders():
            if not self._may_send(sender):
                for tx in self.mempool.evict_sender(sender):
                    self._dropped[tx.hash] = "sender is no longer an active member"

    def _after_block(self, batch: list[evm.DecodedTx], committed: Committed) -> None:
        self.blocks_made += 1
        dropped = [tx for tx, _ in committed.dropped]
        deferred = {tx.hash for tx in committed.deferred}
        with self._cond:
            for tx, reason in committed.dropped:
                self._dropped[tx.hash] = reason
                log.warning("dropped transaction 0x%s: %s", tx.hash.hex(), reason)
            self.mempool.requeue([tx for tx in batch if tx.hash in deferred])
            mined = [tx for tx in batch if tx.hash not in deferred and tx not in dropped]
            self.mempool.settle(mined, dropped)
            if len(self._dropped) > 100_000:
                self._dropped.clear()
