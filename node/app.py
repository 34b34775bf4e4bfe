"""One node process: the chain, its role (sequencer or follower) and the RPC server."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

from node.chain import Chain
from node.config import NodeConfig, demo_genesis
from node.errors import ConfigError
from node.follower import Follower
from node.rpc import Rpc
from node.seal import Sealer
from node.sequencer import Sequencer
from node.server import RpcServer

__all__ = ["Node", "load_config"]

log = logging.getLogger("medledger.node")


def load_config(
    *,
    data_dir: Path,
    genesis: Path | None,
    **runtime: Any,
) -> NodeConfig:
    """The genesis file given, else the one in the data directory, else the demo genesis
    (written into the data directory so the chain keeps it)."""
    runtime["data_dir"] = data_dir
    if genesis is not None:
        return NodeConfig.load(genesis, **runtime)
    stored = data_dir / "genesis.json"
    if stored.exists():
        return NodeConfig.load(stored, **runtime)
    config = demo_genesis()
    config.save(stored)
    return NodeConfig.load(stored, **runtime)


class Node:
    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.chain = Chain(config)
        self.sequencer: Sequencer | None = None
        self.follower: Follower | None = None
        self.exit_code = 0
        self._done = threading.Event()
        if config.follow_url:
            self.follower = Follower(self.chain, config.follow_url, on_divergence=self._diverged)
        else:
            key = config.authority_key or os.environ.get("MEDLEDGER_AUTHORITY_KEY")
            key = key or config.demo_authority_key
            if not key:
                raise ConfigError(
                    "no authority key: pass --authority-key, set MEDLEDGER_AUTHORITY_KEY, "
                    "or run as a follower with --follow URL"
                )
            self.sequencer = Sequencer(self.chain, config, Sealer(key, chain_id=config.chain_id))
        seq = self.sequencer
        self.rpc = Rpc(
            self.chain,
            config,
            submit=seq.submit if seq else None,
            pending_nonce=seq.pending_nonce if seq else None,
            tx_status=seq.transaction_status if seq else None,
            status=self.status,
        )
        self.server = RpcServer(config.rpc_host, config.rpc_port, self.rpc)

    def status(self) -> dict[str, Any]:
        if self.follower is not None:
            return self.follower.status()
        assert self.sequencer is not None
        return {
            "role": "sequencer",
            "authority": self.sequencer.sealer.address,
            "mempool": len(self.sequencer.mempool),
            "lag_blocks": 0,
            "blocksMade": self.sequencer.blocks_made,
        }

    def _diverged(self, divergence: dict[str, Any]) -> None:
        if self.config.exit_on_divergence:
            self.exit_code = 3
            self._done.set()

    def start(self) -> None:
        if self.sequencer:
            self.sequencer.start()
        if self.follower:
            self.follower.start()
        self.server.start()

    def stop(self) -> None:
        self.server.stop()
        if self.sequencer:
            self.sequencer.stop()
        if self.follower:
            self.follower.stop()
        self.chain.close()

    def run_forever(self) -> int:
        """Serve until SIGINT/SIGTERM (or a divergence with exit_on_divergence)."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._done.set())
        self.start()
        self._done.wait()
        self.stop()
        return self.exit_code

    def banner(self) -> list[str]:
        role = f"follower of {self.config.follow_url}" if self.follower else "sequencer"
        lines = [
            f"chain id      {self.config.chain_id}",
            f"genesis       0x{self.chain.genesis_hash.hex()}",
            f"authorities   {', '.join(self.config.authorities)}",
            f"role          {role}",
            f"rpc           {self.server.url}",
            f"data dir      {self.config.data_dir}",
        ]
        lines += [f"{k:<13} {self.config.contract_address(k)}" for k in self.chain.contracts]
        return lines
