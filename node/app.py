"""One node process: the chain, its role (sequencer or follower) and the RPC server.

The authority key lives only in this process, the one that seals blocks. It comes from
`--authority-key-file` (a file only its owner may read, mode 0600 or stricter), from
`MEDLEDGER_AUTHORITY_KEY` (removed from the environment as soon as it is read, so no
helper process inherits it; `node.child` also starts helpers with a scrubbed
environment), from `--authority-key` (visible in the process list: for tests), or is the
genesis file's demo key. Prefer the file: a variable stays readable in
`/proc/<pid>/environ` of this process for as long as it runs."""

from __future__ import annotations

import logging
import os
import signal
import threading
from pathlib import Path
from typing import Any

from medledger.node.chain import Chain
from medledger.node.config import NodeConfig, demo_genesis
from medledger.node.errors import ConfigError
from medledger.node.follower import Follower
from medledger.node.front import FrontProcess
from medledger.node.intake import Intake
from medledger.node.rpc import Rpc
from medledger.node.seal import Sealer
from medledger.node.sequencer import BatchSource, Sequencer
from medledger.node.server import RpcServer
from medledger.node.ws import WsLimits, WsServer

__all__ = ["AUTHORITY_KEY_ENV", "Node", "authority_key", "load_config"]

log = logging.getLogger("medledger.node")
AUTHORITY_KEY_ENV = "MEDLEDGER_AUTHORITY_KEY"


def authority_key(config: NodeConfig) -> str | None:
    """The sequencer's signing key (see the module docstring for where it comes from).
    `MEDLEDGER_AUTHORITY_KEY` is taken out of the environment whichever source wins."""
    from_env = os.environ.pop(AUTHORITY_KEY_ENV, None)
    if config.authority_key:
        return config.authority_key
    if config.authority_key_file is not None:
        return _read_key_file(config.authority_key_file)
    return from_env or config.demo_authority_key


def _read_key_file(path: Path) -> str:
    try:
        fd = os.open(path, os.O_RDONLY | os.O_NOFOLLOW)
    except OSError as exc:
        raise ConfigError(f"cannot read the authority key file {path}: {exc.strerror}") from exc
    with os.fdopen(fd) as handle:
        mode = os.fstat(handle.fileno()).st_mode
        if mode & 0o077:
            raise ConfigError(
                f"the authority key file {path} may be read by others (mode "
                f"{mode & 0o777:o}); make it the owner's only: chmod 600 {path}"
            )
        key = handle.read().strip()
    if not key:
        raise ConfigError(f"the authority key file {path} is empty")
    return key


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

    def __init__(self, config: NodeConfig, *, ws_limits: WsLimits | None = None) -> None:
        self.config = config
        self._ws_limits = ws_limits
        self.chain = Chain(config)
        self.sequencer: Sequencer | None = None
        self.follower: Follower | None = None
        self.front: FrontProcess | None = None
        self.server: RpcServer | None = None
        self.ws: WsServer | None = None
        self.exit_code = 0
        self._done = threading.Event()
        if config.follow_url:
            os.environ.pop(AUTHORITY_KEY_ENV, None)  # a follower signs nothing
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
        key = authority_key(config)
        if not key:
            raise ConfigError(
                "no authority key: pass --authority-key-file, set MEDLEDGER_AUTHORITY_KEY, "
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
        if self.config.ws_port is not None:
            self.ws = WsServer(
                self.config.rpc_host, self.config.ws_port, rpc, self.chain, limits=self._ws_limits
            )

    @property
    def url(self) -> str:
        if self.front is not None:
            return self.front.url
        assert self.server is not None
        return self.server.url

    @property
    def ws_url(self) -> str | None:
        if self.front is not None:
            return self.front.ws_url
        return None if self.ws is None else self.ws.url

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
        if self.ws:
            self.ws.start()

    def stop(self) -> None:
        if self.ws:
            self.ws.stop()
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
            f"engine        {self.config.engine}",
            f"rpc           {self.url}",
            *([f"ws            {self.ws_url}"] if self.ws_url else []),
            f"data dir      {self.config.data_dir}",
        ]
        lines += [f"{k:<13} {self.config.contract_address(k)}" for k in self.chain.contracts]
        return lines
