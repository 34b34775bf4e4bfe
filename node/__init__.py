"""The embedded permissioned chain node: py-evm execution, LMDB store, sequencer, RPC, follower.

Importing it changes nothing else in the process: the node installs its process-wide
speed-ups (`node.speedups.install`) itself when it starts a chain or an execution engine.
"""
