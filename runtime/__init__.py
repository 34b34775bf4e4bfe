"""What every long-running process shares: structured logs and the health and metrics
endpoint. Below every other package but sdk, so the node and the indexer can use it."""
