"""The embedded permissioned chain node: revm execution (py-evm the reference), LMDB store,
sequencer, RPC, follower.

Importing it changes nothing else in the process: the node chooses eth-hash's C keccak
(`node.engine.use_native_keccak`) itself when it starts a chain or an execution engine.
"""
