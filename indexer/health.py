"""The indexer's `/healthz` and Prometheus `/metrics` on a port of its own (`--metrics-port`):
the indexed block, the chain head and the lag between them, read at each request."""

from __future__ import annotations

from typing import Any

from medledger.indexer.errors import SourceError
from medledger.indexer.follower import Indexer
from medledger.indexer.source import LogSource
from medledger.runtime.metrics import HealthServer, gauge_registry

__all__ = ["start_health_server"]

GAUGES = {
    "medledger_indexer_block": "Newest block the indexer has written.",
    "medledger_indexer_chain_head": "The chain's head block as the indexer's source reports it.",
    "medledger_indexer_lag_blocks": "Blocks between the chain head and the indexed block.",
}


def start_health_server(
    indexer: Indexer, source: LogSource, *, host: str, port: int
) -> HealthServer:
    def read() -> dict[str, Any]:
        cursor = indexer.cursor()
        block = cursor[0] if cursor else -1
        try:
            head: int | None = source.head()
        except SourceError:
            head = None
        out: dict[str, Any] = {"medledger_indexer_block": block}
        if head is not None:
            out["medledger_indexer_chain_head"] = head
            out["medledger_indexer_lag_blocks"] = max(0, head - block)
        return out

    def health() -> dict[str, Any]:
        values = read()
        return {
            "status": "ok" if "medledger_indexer_chain_head" in values else "chain_unreachable",
            "block": values["medledger_indexer_block"],
            "lag_blocks": values.get("medledger_indexer_lag_blocks"),
        }

    server = HealthServer(host, port, registry=gauge_registry(GAUGES, read), health=health)
    server.start()
    return server
