"""The embedded permissioned chain node: py-evm execution, LMDB store, sequencer, RPC, follower."""

from node.speedups import install as _install_speedups

_install_speedups()
