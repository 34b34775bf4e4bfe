"""Follower mode: the regulator's read-only node.

It pulls blocks (`debug_getRawBlock`) and seals (`medledger_getSeal`) from the sequencer in
JSON-RPC batches (`node.fetcher`; in a helper process with `fetch_process`), re-executes
each block with its own py-evm, compares every header field (state, receipts and
transactions roots included) and checks the seal against the genesis authority set. At the
first mismatch it stops advancing and records which block and which field diverged;
`medledger_status` reports it, the log says it, and with `exit_on_divergence` the process
exits non-zero.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from typing import Any

from medledger.node.chain import Chain
from medledger.node.client import RpcClient
from medledger.node.errors import ConfigError, DivergenceError, RpcError, SealError
from medledger.node.fetcher import DirectFetcher, FetchedBlock, Fetcher, FetcherGone, FetcherProcess

__all__ = ["Follower"]

log = logging.getLogger("medledger.node.follower")
POLL_SECONDS = 0.1


class Follower:
    def __init__(
        self,
        chain: Chain,
        url: str,
        *,
        on_divergence: Callable[[dict[str, Any]], None] | None = None,
        fetch_process: bool = False,
    ) -> None:
        self.chain = chain
        self.url = url
        try:
            self.client = RpcClient(url)
        except ValueError as exc:
            raise ConfigError(f"--follow {url!r}: {exc}") from exc
        self.fetcher: Fetcher = (
            FetcherProcess(url) if fetch_process else DirectFetcher(RpcClient(url))
        )
        self.remote_head = 0
        self.divergence: dict[str, Any] | None = None
        self.last_error: str | None = None
        self.imported = 0
        self._genesis_checked = False
        self._on_divergence = on_divergence
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="follower", daemon=True)

    def start(self) -> None:
        self._thread.start()

    def stop(self) -> None:
        self._stop.set()
        self._thread.join(timeout=30)
        self.close()

    def close(self) -> None:
        """Close the connections (and the fetcher process) of a follower stepped by hand."""
        self.client.close()
        self.fetcher.close()

    @property
    def lag(self) -> int:
        return max(0, self.remote_head - self.chain.head_number)

    def status(self) -> dict[str, Any]:
        return {
            "role": "follower",
            "following": self.url,
            "remoteHead": self.remote_head,
            "lag_blocks": self.lag,
            "importedBlocks": self.imported,
            "divergence": self.divergence,
            "lastError": self.last_error,
        }

    @property
    def running(self) -> bool:
        return self._thread.is_alive()

    def _run(self) -> None:
        while not self._stop.is_set() and self.divergence is None:
            try:
                advanced = self.step()
                self.last_error = None
            except (OSError, RpcError, ValueError, KeyError) as exc:
                self.last_error = f"cannot reach the sequencer at {self.url}: {exc}"
                log.warning("%s", self.last_error)
                advanced = False
            except FetcherGone as exc:
                log.error("%s; the follower stops", exc)
                return
            if not advanced:
                self._stop.wait(POLL_SECONDS)

    def step(self) -> bool:
        """Import up to one batch of blocks; False when there was nothing to import."""
        if not self._genesis_checked:
            remote = self.client.call("eth_getBlockByNumber", "0x0", False)["hash"]
            ours = "0x" + self.chain.genesis_hash.hex()
            if remote != ours:
                self._diverged(0, "genesis", f"the sequencer's genesis is {remote}, ours is {ours}")
                return False
            self._genesis_checked = True
        fetched = self.fetcher.fetch(self.chain.head_number + 1)
        self.remote_head = fetched.remote_head
        for block in fetched.blocks:
            if not self._import(block):
                return False
        return bool(fetched.blocks)

    def _import(self, block: FetchedBlock) -> bool:
        try:
            if not block.seal:
                raise SealError(f"block {block.number} has no seal")
            self.chain.verify_and_import(
                block.raw, bytes.fromhex(block.seal[2:]), senders=block.senders
            )
        except DivergenceError as exc:
            self._diverged(block.number, exc.field, str(exc))
            return False
        except SealError as exc:
            self._diverged(block.number, "seal", str(exc))
            return False
        self.imported += 1
        return True

    def _diverged(self, number: int, field: str, message: str) -> None:
        self.divergence = {"block": number, "field": field, "message": message, "at": time.time()}
        log.error(
            "DIVERGENCE at block %d (%s): %s; the follower stops here", number, field, message
        )
        if self._on_divergence is not None:
            self._on_divergence(self.divergence)
