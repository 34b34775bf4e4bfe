"""The embedded permissioned chain node: py-evm execution, LMDB store, sequencer, RPC, follower."""
