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
from node.front import FrontProcess
from node.intake import Intake
from node.rpc import Rpc
from node.seal import Sealer
from node.sequencer import BatchSource, Sequencer
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
    """A follower or a sequencer, in this process only (`Node(config)`, as tests use it) or
    with a helper process (`config.helper_process`, as `medledger node` runs it): the
    sequencer's RPC front (`node.front`) or the follower's fetcher (`node.fetcher`)."""

    def __init__(self, config: NodeConfig) -> None:
        self.config = config
        self.chain = Chain(config)
        self.sequencer: Sequencer | None = None
        self.follower: Follower | None = None
        self.front: FrontProcess | None = None
        self.server: RpcServer | None = None
        self.exit_code = 0
        self._done = threading.Event()
        if config.follow_url:
            self.follower = Follower(
                self.chain,
                config.follow_url,
                on_divergence=self._diverged,
                fetch_process=config.helper_process,
            )
            self._serve(
                Rpc(
                    self.chain, config, submit=None, pending_nonce=None, status=self.follower.status
                )
            )
            return
        key = config.authority_key or os.environ.get("MEDLEDGER_AUTHORITY_KEY")
        key = key or config.demo_authority_key
        if not key:
            raise ConfigError(
                "no authority key: pass --authority-key, set MEDLEDGER_AUTHORITY_KEY, "
                "or run as a follower with --follow URL"
            )
        sealer = Sealer(key, chain_id=config.chain_id)
        source: BatchSource
        if config.helper_process:
            source = self.front = FrontProcess(
                config,
                genesis_hash=self.chain.genesis_hash,
                contracts=self.chain.contracts,
                authority=sealer.address,
            )
            # Started here, so a port already in use is refused like the in-process
            # server's, before the banner.
            self.front.start()
        else:
            source = intake = Intake(self.chain, config, authority=sealer.address)
            self._serve(Rpc.for_sequencer(self.chain, config, intake))
        self.sequencer = Sequencer(self.chain, config, sealer, source)

    def _serve(self, rpc: Rpc) -> None:
        self.rpc = rpc
        self.server = RpcServer(self.config.rpc_host, self.config.rpc_port, rpc)

    @property
    def url(self) -> str:
        if self.front is not None:
            return self.front.url
        assert self.server is not None
        return self.server.url

    def _diverged(self, divergence: dict[str, Any]) -> None:
        if self.config.exit_on_divergence:
            self.exit_code = 3
            self._done.set()

    def start(self) -> None:
        if self.sequencer:
            self.sequencer.start()
        if self.follower:
            self.follower.start()
        if self.server:
            self.server.start()

    def stop(self) -> None:
        if self.server:
            self.server.stop()
        if self.sequencer:
            self.sequencer.stop()
        if self.follower:
            self.follower.stop()
        self.chain.close()

    def run_forever(self) -> int:
        """Serve until SIGINT/SIGTERM, a divergence with exit_on_divergence, or a helper
        process going away."""
        for sig in (signal.SIGINT, signal.SIGTERM):
            signal.signal(sig, lambda *_: self._done.set())
        self.start()
        while not self._done.wait(1.0):
            if self.sequencer is not None and not self.sequencer.running:
                log.error("the block maker stopped; exiting")
                self.exit_code = 1
                break
            if self.follower is not None and not self.follower.running:
                if self.follower.divergence is None:
                    log.error("the follower stopped; exiting")
                    self.exit_code = 1
                    break
        self.stop()
        return self.exit_code

    def banner(self) -> list[str]:
        role = f"follower of {self.config.follow_url}" if self.follower else "sequencer"
        lines = [
            f"chain id      {self.config.chain_id}",
            f"genesis       0x{self.chain.genesis_hash.hex()}",
            f"authorities   {', '.join(self.config.authorities)}",
            f"role          {role}",
            f"rpc           {self.url}",
            f"data dir      {self.config.data_dir}",
        ]
        lines += [f"{k:<13} {self.config.contract_address(k)}" for k in self.chain.contracts]
        return lines
