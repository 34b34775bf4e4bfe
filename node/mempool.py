"""The sequencer's mempool: per-sender nonce order, a gap queue, duplicates, a bound.

Not thread-safe by itself; `node.sequencer` holds its lock around every call.

- A transaction whose nonce is the sender's next one is *ready*; ready transactions leave
  in arrival order, so one sender's transactions stay in nonce order.
- A transaction with a higher nonce waits in the sender's gap queue until the gap fills.
- A transaction already known (pending, in flight or mined) is a duplicate.
- Ready + queued + in-flight transactions never exceed `limit`; past it, `add` refuses.
"""

from __future__ import annotations

import time
from collections import deque
from collections.abc import Callable

from medledger.node.errors import TX_REJECTED, BackpressureError, RpcError
from medledger.node.evm import DecodedTx

__all__ = ["Mempool"]

MAX_NONCE_GAP = 256


class Mempool:
    def __init__(self, *, limit: int) -> None:
        self.limit = limit
        self.ready: deque[tuple[float, DecodedTx]] = deque()
        self.queued: dict[bytes, dict[int, DecodedTx]] = {}
        self.next_nonce: dict[bytes, int] = {}
        self.outstanding: dict[bytes, int] = {}
        self.known: set[bytes] = set()

    def __len__(self) -> int:
        return sum(self.outstanding.values())

    def pending_nonce(self, sender: bytes, state_nonce: Callable[[], int]) -> int:
        nonce = self.next_nonce.get(sender)
        return state_nonce() if nonce is None else nonce

    def add(self, tx: DecodedTx, state_nonce: Callable[[], int]) -> None:
        if tx.hash in self.known:
            raise RpcError(TX_REJECTED, f"already known: transaction 0x{tx.hash.hex()}")
        total = len(self)
        if total >= self.limit:
            raise BackpressureError(
                f"mempool full ({total} of {self.limit} transactions); retry later"
            )
        expected = self.pending_nonce(tx.sender, state_nonce)
        if tx.nonce < expected:
            raise RpcError(
                TX_REJECTED,
                f"nonce too low: next nonce of 0x{tx.sender.hex()} is {expected}, "
                f"transaction has {tx.nonce}",
            )
        if tx.nonce - expected > MAX_NONCE_GAP:
            raise RpcError(
                TX_REJECTED,
                f"nonce too high: next nonce of 0x{tx.sender.hex()} is {expected}, "
                f"transaction has {tx.nonce} (at most {MAX_NONCE_GAP} ahead may wait)",
            )
        queue = self.queued.setdefault(tx.sender, {})
        if tx.nonce in queue:
            raise RpcError(
                TX_REJECTED,
                f"nonce {tx.nonce} of 0x{tx.sender.hex()} is already waiting in the mempool",
            )
        self.known.add(tx.hash)
        self.outstanding[tx.sender] = self.outstanding.get(tx.sender, 0) + 1
        self.next_nonce.setdefault(tx.sender, expected)
        queue[tx.nonce] = tx
        self._promote(tx.sender)

    def _promote(self, sender: bytes) -> None:
        queue = self.queued.get(sender, {})
        nonce = self.next_nonce[sender]
        now = time.monotonic()
        while nonce in queue:
            self.ready.append((now, queue.pop(nonce)))
            nonce += 1
        self.next_nonce[sender] = nonce
        if not queue:
            self.queued.pop(sender, None)

    def oldest_ready(self) -> float | None:
        return self.ready[0][0] if self.ready else None

    def take(self, count: int) -> list[DecodedTx]:
        """Remove up to `count` ready transactions; they stay known and outstanding (in
        flight) until `settle`."""
        out: list[DecodedTx] = []
        while self.ready and len(out) < count:
            out.append(self.ready.popleft()[1])
        return out

    def requeue(self, txs: list[DecodedTx]) -> None:
        """Put in-flight transactions that did not fit back at the front, in order."""
        now = time.monotonic()
        for tx in reversed(txs):
            self.ready.appendleft((now, tx))

    def settle(self, mined: list[DecodedTx], dropped: list[DecodedTx]) -> None:
        """Forget in-flight transactions once their block is committed (or they failed).
        A dropped transaction also drops the sender's later ones, which cannot run now."""
        for tx in mined:
            self._forget(tx)
        for tx in dropped:
            self._forget(tx)
            self.evict_sender(tx.sender)

    def evict_sender(self, sender: bytes) -> list[DecodedTx]:
        """Remove every pending transaction of `sender`; returns them."""
        evicted = [tx for _, tx in self.ready if tx.sender == sender]
        evicted += list(self.queued.pop(sender, {}).values())
        if evicted:
            self.ready = deque((t, tx) for t, tx in self.ready if tx.sender != sender)
        for tx in evicted:
            self._forget(tx)
        self.next_nonce.pop(sender, None)
        return evicted

    def senders(self) -> set[bytes]:
        return {tx.sender for _, tx in self.ready} | set(self.queued)

    def _forget(self, tx: DecodedTx) -> None:
        self.known.discard(tx.hash)
        left = self.outstanding.get(tx.sender, 0) - 1
        if left <= 0:
            self.outstanding.pop(tx.sender, None)
            if tx.sender not in self.queued:
                self.next_nonce.pop(tx.sender, None)
        else:
            self.outstanding[tx.sender] = left
