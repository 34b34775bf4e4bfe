"""New blocks for WebSocket subscribers: a thread that watches the chain's head and hands
each new block's header and logs to the subscriptions (`node.ws`).

It reads the chain store, so it works the same in the node process and in the
sequencer's RPC front (`node.front`), which sees blocks once the writer made them durable.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from medledger.node import evm_reads, records
from medledger.node.chain import ChainView

__all__ = ["MAX_CATCH_UP", "NewBlock", "WatchHeads"]

log = logging.getLogger("medledger.node.ws")
MAX_CATCH_UP = 256  # blocks announced after a jump of the head; older ones are skipped


@dataclass(frozen=True, slots=True)
class NewBlock:
    header: dict[str, Any]
    logs: list[dict[str, Any]]


class WatchHeads:
    """Calls `deliver(block)` once per new canonical block, in order, from one thread.
    `wants_logs()` says whether any subscriber wants logs (else they are not read)."""

    def __init__(
        self,
        chain: ChainView,
        deliver: Callable[[NewBlock], None],
        wants_logs: Callable[[], bool],
        *,
        interval: float = 0.01,
        max_logs: int = 10_000,
    ) -> None:
        self._chain = chain
        self._deliver = deliver
        self._wants_logs = wants_logs
        self._interval = interval
        self._max_logs = max_logs
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="ws-heads", daemon=True)
        self._last = -1

    def start(self) -> None:
        with self._chain.snapshot() as snap:
            self._last = evm_reads.head_number(snap)
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        if self._thread.is_alive():
            self._thread.join(timeout=5)

    def _run(self) -> None:
        while not self._stop.wait(self._interval):
            try:
                self._poll()
            except Exception:  # a store error must not end the feed for good
                log.exception("reading new blocks for subscribers failed")

    def _poll(self) -> None:
        with self._chain.snapshot() as snap:
            head = evm_reads.head_number(snap)
            if head <= self._last:
                self._last = min(self._last, head)  # a shorter chain: announce from there on
                return
            first = max(self._last + 1, head - MAX_CATCH_UP + 1)
            blocks = [self._read(snap, n) for n in range(first, head + 1)]
        self._last = head
        for block in blocks:
            if block is not None:
                self._deliver(block)

    def _read(self, snap: Any, number: int) -> NewBlock | None:
        header = evm_reads.header_by_number(snap, number)
        if header is None:
            return None
        logs: list[dict[str, Any]] = []
        if self._wants_logs():
            everything = records.LogFilter([], [])
            try:
                logs = records.Reader(snap).logs(number, number, everything, limit=self._max_logs)
            except OverflowError:
                log.warning("block %d has over %d logs; not announced", number, self._max_logs)
        return NewBlock(evm_reads.header_json(header), logs)
