"""The node's `/healthz` and Prometheus `/metrics` (GET on the JSON-RPC port), read from
`medledger_status` at each request: block height, mempool size, follower lag."""

from __future__ import annotations

from typing import Any

from medledger.node.rpc import Rpc
from medledger.runtime.metrics import Answer, gauge_registry, http_answer

__all__ = ["node_http_answer"]

GAUGES = {
    "medledger_node_block_height": "Number of the newest block in this node's store.",
    "medledger_node_mempool_size": "Transactions waiting in the sequencer's mempool.",
    "medledger_node_follower_lag_blocks": "Blocks the follower is behind its sequencer.",
    "medledger_node_diverged": "1 once the follower found a block that does not re-execute.",
}


def node_http_answer(path: str, rpc: Rpc) -> Answer | None:
    def status() -> dict[str, Any]:
        return rpc.medledger_status()

    def read() -> dict[str, float]:
        s = status()
        return {
            "medledger_node_block_height": s["headNumber"],
            "medledger_node_mempool_size": s.get("mempool", 0),
            "medledger_node_follower_lag_blocks": s.get("lag_blocks", 0),
            "medledger_node_diverged": 1 if s.get("divergence") else 0,
        }

    def health() -> dict[str, Any]:
        s = status()
        return {
            "status": "diverged" if s.get("divergence") else "ok",
            "role": s.get("role"),
            "head": s["headNumber"],
            "lag_blocks": s.get("lag_blocks", 0),
        }

    return http_answer(path, registry=gauge_registry(GAUGES, read), health=health)
