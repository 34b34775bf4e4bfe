"""`medledger indexer`: follow a JSON-RPC endpoint into a database until interrupted."""

from __future__ import annotations

import json
import signal
from collections.abc import Callable
from pathlib import Path
from types import FrameType

from medledger.indexer.config import Settings
from medledger.indexer.errors import ConfigError, SourceError
from medledger.indexer.follower import Indexer, SyncResult
from medledger.indexer.health import start_health_server
from medledger.indexer.source import NewHeads, Web3LogSource
from medledger.sdk.deploy import Deployment

__all__ = ["load_deployment", "run_indexer"]


def load_deployment(path: Path) -> Deployment:
    """A `Deployment` JSON file (as written by `Deployment.save`), with a clear error."""
    try:
        return Deployment.load(path)
    except FileNotFoundError:
        raise ConfigError(f"deployment file {path} does not exist") from None
    except (json.JSONDecodeError, TypeError) as exc:
        raise ConfigError(f"deployment file {path} is not a deployment JSON: {exc}") from exc


def run_indexer(
    settings: Settings,
    *,
    rpc_url: str,
    deployment: Deployment,
    once: bool,
    echo: Callable[[str], None],
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
    ws_url: str | None = None,
) -> None:
    """Hold the lock, migrate, then sync until SIGINT/SIGTERM (or the head, with `once`);
    with `metrics_port`, serve /healthz and /metrics there meanwhile; with `ws_url`, wake
    on the node's newHeads subscription instead of waiting out the poll interval."""
    if rpc_url.startswith(("ws://", "wss://")):
        raise ConfigError(
            f"--rpc must be the http(s):// JSON-RPC URL; give {rpc_url} as --ws next to it"
        )
    if not rpc_url.startswith(("http://", "https://")):
        raise ConfigError(f"--rpc must be an http(s):// JSON-RPC URL, not {rpc_url!r}")
    if ws_url is not None and not ws_url.startswith(("ws://", "wss://")):
        raise ConfigError(f"--ws must be a ws:// or wss:// URL, not {ws_url!r}")
    stopping = False
    heads = None if ws_url is None else NewHeads(ws_url)

    def _stop(_signum: int, _frame: FrameType | None) -> None:
        nonlocal stopping
        stopping = True
        if heads is not None:
            heads.wake()  # out of its wait for the next block, to stop now

    signal.signal(signal.SIGTERM, _stop)
    signal.signal(signal.SIGINT, _stop)

    def report(result: SyncResult) -> None:
        if result.rewound_to is not None:
            echo(f"reorg: rewound to block {result.rewound_to}")
        if result.to_block >= result.from_block:
            echo(
                f"indexed blocks {result.from_block}-{result.to_block}: {result.logs} logs, "
                f"{result.item_events} item events"
            )

    source = Web3LogSource.from_url(rpc_url)
    try:
        head = source.head()
    except SourceError as exc:
        raise SourceError(f"cannot reach the chain at {rpc_url}: {exc}") from exc
    with Indexer(settings, source, deployment) as indexer:
        echo(f"indexing {rpc_url} (head {head}) into {settings.db_url}")
        health = None
        if metrics_port is not None:
            health = start_health_server(indexer, source, host=metrics_host, port=metrics_port)
            echo(f"health and metrics on {health.url}")
        if once:
            while (result := indexer.sync_once()) is not None:
                report(result)
            echo("synced")
            return
        if heads is not None:
            heads.start()
            echo(f"woken by new heads from {ws_url} (polling while it is down)")
        try:
            indexer.run(
                stop=lambda: stopping,
                on_sync=report,
                on_error=lambda exc: echo(f"chain error, retrying: {exc}"),
                heads=heads,
            )
        finally:
            if heads is not None:
                heads.stop()
            if health is not None:
                health.stop()
