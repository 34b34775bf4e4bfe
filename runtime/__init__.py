"""What every long-running process shares: structured logs, the health and metrics
endpoint, and the supervisor that starts and restarts child processes. Below every other
package but sdk, so the node, the indexer and the peer engines can use it."""
