"""The sequencer's RPC front: JSON-RPC, admission and the mempool in a process of their own.

`medledger node` as a sequencer runs two processes, so that block building has a core to
itself instead of sharing one interpreter with HTTP parsing, JSON and signature recovery:

- the node process (`node.app.Node`) owns the chain store's writer and the authority key,
  and runs the block maker (`node.sequencer.Sequencer`);
- the front process, started here, serves JSON-RPC on the node's port. It reads the chain
  from the same LMDB store (a reader in another process sees each block once its write
  transaction is durable), admits transactions into its `node.intake.Intake`, and hands
  batches to the node process over a pipe. It holds no signing key.

The pipe carries three messages from the node process: "next" (answered with the next
batch as (raw transaction, sender) pairs, so the signature is recovered once, in the
front), "done" with the committed block's `BlockOutcome`, and "failed". Their order on the
pipe is the order the intake sees them in, so a batch is always settled before the next
one is taken. The front dies with the node process, even on SIGKILL (`node.child`); the
node process stops when the front goes away. Neither its start message (the config
without keys) nor its environment (`node.child` scrubs it) carries the authority key.
"""

from __future__ import annotations

import logging
import signal
import threading
from collections.abc import Sequence
from dataclasses import replace
from multiprocessing.connection import Connection
from typing import Any

from medledger.node import evm
from medledger.node.chain import ChainReader
from medledger.node.child import ChildProcess, connect_to_parent
from medledger.node.config import NodeConfig
from medledger.node.errors import NodeError
from medledger.node.intake import BlockOutcome, Intake
from medledger.node.rpc import Rpc
from medledger.node.server import RpcServer
from medledger.node.ws import WsServer

__all__ = ["FrontProcess"]

log = logging.getLogger("medledger.node.front")
READY_TIMEOUT = 120.0


class FrontProcess:
    """The node process's handle on its RPC front; also the block maker's batch source."""

    def __init__(
        self,
        config: NodeConfig,
        *,
        genesis_hash: bytes,
        contracts: dict[str, bytes],
        authority: str,
    ) -> None:
        self._start_message = (
            replace(config, authority_key=None, authority_key_file=None, demo_authority_key=None),
            genesis_hash,
            contracts,
            authority,
        )
        self._child: ChildProcess | None = None
        self.host = config.rpc_host
        self.port = config.rpc_port
        self.ws_port: int | None = config.ws_port

    @property
    def url(self) -> str:
        return f"http://{self.host}:{self.port}"

    @property
    def ws_url(self) -> str | None:
        return None if self.ws_port is None else f"ws://{self.host}:{self.ws_port}"

    def start(self) -> None:
        self._child = child = ChildProcess("medledger.node.front", self._start_message)
        if not child.conn.poll(READY_TIMEOUT):
            child.process.kill()
            raise NodeError(f"the RPC process did not start within {READY_TIMEOUT:.0f} s")
        try:
            kind, value = child.conn.recv()
        except EOFError as exc:
            raise NodeError("the RPC process exited while starting (see the log)") from exc
        if kind != "ready":
            child.process.wait(10)
            raise NodeError(str(value))
        self.port, self.ws_port = value
        self._conn = child.conn

    # ------------------------------------------------------------ BatchSource

    def next_batch(self) -> list[evm.DecodedTx] | None:
        self._conn.send(("next", None))
        batch: list[tuple[bytes, bytes]] | None = self._conn.recv()
        if batch is None:
            return None
        return [evm.decode_admitted(raw, sender) for raw, sender in batch]

    def block_done(self, outcome: BlockOutcome) -> None:
        self._conn.send(("done", outcome))

    def block_failed(self, reason: str) -> None:
        self._conn.send(("failed", reason))

    def stop(self) -> None:
        if self._child is not None:
            self._child.stop()


# ---------------------------------------------------------------- the front process


def main(argv: Sequence[str] | None = None) -> None:
    conn, (config, genesis_hash, contracts, authority) = connect_to_parent(
        argv, "The sequencer's RPC front (node.front)."
    )
    _front_main(conn, config, genesis_hash, contracts, authority)


def _front_main(
    conn: Connection,
    config: NodeConfig,
    genesis_hash: bytes,
    contracts: dict[str, bytes],
    authority: str,
) -> None:
    from medledger.runtime.logs import setup_logging

    setup_logging("node-rpc")
    done = threading.Event()
    signal.signal(signal.SIGTERM, lambda *_: done.set())
    signal.signal(signal.SIGINT, signal.SIG_IGN)  # the node process stops us on Ctrl-C
    chain = ChainReader(config, genesis_hash=genesis_hash, contracts=contracts)
    intake = Intake(chain, config, authority=authority)
    rpc = Rpc.for_sequencer(chain, config, intake)
    ws = None
    port = config.rpc_port
    try:
        server = RpcServer(config.rpc_host, port, rpc)
        if config.ws_port is not None:
            port = config.ws_port
            ws = WsServer(config.rpc_host, port, rpc, chain)
    except OSError as exc:
        conn.send(("error", f"cannot listen on {config.rpc_host}:{port}: {exc}"))
        return
    server.start()
    if ws is not None:
        ws.start()
    conn.send(("ready", (server.port, None if ws is None else ws.port)))
    threading.Thread(
        target=_serve_block_maker, args=(conn, intake, done), name="block-maker", daemon=True
    ).start()
    done.wait()
    intake.stop()
    if ws is not None:
        ws.stop()
    server.stop()
    chain.close()


def _serve_block_maker(conn: Connection, intake: Intake, done: threading.Event) -> None:
    try:
        while True:
            kind, value = conn.recv()
            _answer(conn, intake, kind, value)
    except (EOFError, OSError):
        log.info("the node process went away; stopping")
    finally:
        done.set()


def _answer(conn: Connection, intake: Intake, kind: str, value: Any) -> None:
    if kind == "next":
        batch = intake.next_batch()
        conn.send(None if batch is None else [(tx.raw, tx.sender) for tx in batch])
    elif kind == "done":
        intake.block_done(value)
    elif kind == "failed":
        intake.block_failed(value)
    else:
        raise ValueError(f"unknown message {kind!r} from the node process")


if __name__ == "__main__":
    main()
