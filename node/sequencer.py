"""The authority's block maker: take a batch from the intake, execute, seal, commit.

One thread. It asks its `BatchSource` for the next batch (the `node.intake.Intake` in this
process, or `node.front.FrontProcess`, which asks the intake in the RPC process), builds
and seals a block of it with `Chain.produce`, and settles the batch only after the block
is durably committed. It never makes empty blocks.

A block's wall time is bounded: admission caps each transaction's gas
(`NodeConfig.max_tx_gas`) and the block stops taking transactions once
`NodeConfig.block_time_budget_ms` is spent; the rest go back to the front of the mempool
for the next block. The follower needs no clock for this: it replays the block's list.
"""

from __future__ import annotations

import logging
import threading
import time
from typing import Protocol

from medledger.node import evm
from medledger.node.chain import Chain, Committed
from medledger.node.config import NodeConfig
from medledger.node.errors import NodeError
from medledger.node.intake import BlockOutcome
from medledger.node.seal import Sealer

__all__ = ["BatchSource", "Sequencer", "outcome_of"]

log = logging.getLogger("medledger.node.sequencer")


class BatchSource(Protocol):
    def next_batch(self) -> list[evm.DecodedTx] | None: ...

    def block_done(self, outcome: BlockOutcome) -> None: ...

    def block_failed(self, reason: str) -> None: ...

    def stop(self) -> None: ...


def outcome_of(committed: Committed) -> BlockOutcome:
    return BlockOutcome(
        number=committed.number,
        log_addresses=frozenset(committed.log_addresses),
        dropped=tuple((tx.hash, reason) for tx, reason in committed.dropped),
        deferred=tuple(tx.hash for tx in committed.deferred),
    )


class Sequencer:
    def __init__(
        self, chain: Chain, config: NodeConfig, sealer: Sealer, source: BatchSource
    ) -> None:
        if sealer.address not in config.authorities:
            raise NodeError(
                f"the authority key is for {sealer.address}, which is not in the genesis "
                f"authority set ({', '.join(config.authorities)})"
            )
        self.chain = chain
        self.config = config
        self.sealer = sealer
        self.source = source
        self.blocks_made = 0
        self._thread = threading.Thread(target=self._run, name="sequencer", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self.source.stop()
        self._thread.join(timeout=30)

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        try:
            self._make_blocks()
        except (EOFError, OSError) as exc:
            log.error("the intake went away (%s); no more blocks are made", exc)

    def _make_blocks(self) -> None:
        while (batch := self.source.next_batch()) is not None:
            started = time.monotonic()
            try:
                committed = self.chain.produce(
                    batch, timestamp=int(time.time()), sealer=self.sealer
                )
            except Exception:
                log.exception("building a block failed; its transactions are dropped")
                self.source.block_failed("the block that held it failed to build")
                continue
            self.blocks_made += 1
            for tx, reason in committed.dropped:
                log.warning("dropped transaction 0x%s: %s", tx.hash.hex(), reason)
            log.debug(
                "block %d: %d transactions in %.0f ms",
                committed.number,
                len(committed.tx_hashes),
                (time.monotonic() - started) * 1000,
            )
            self.source.block_done(outcome_of(committed))
