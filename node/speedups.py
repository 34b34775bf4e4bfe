"""Process-wide speed-ups for the libraries under py-evm; they change no result.

- keccak: py-evm, py-trie and eth-utils hash through eth-hash's shared `keccak`, whose
  automatic choice is pycryptodome, ~6x slower per call than safe-pysha3's C keccak.
- trie nodes: py-trie decodes a node's RLP (in pure Python) every time it walks through
  it, and every storage read or write walks from the root. Decoding is a pure function of
  the encoded bytes, so it is cached (`decoded`); py-trie edits the nodes it is handed, so
  each of its callers gets its own copy.
- trie keys: converting keys to nibbles and the hex-prefix coding of node keys run for
  every node on every walk; the coding of a given key is cached and the conversion made
  cheaper.
- RLP encoding: pyrlp's `encode_raw` tests every item with `isinstance` against an ABC (a
  slow check); bytes, bytearrays, lists and tuples are told apart by type first here, and
  anything else goes to pyrlp's own.

`install` also hooks `node.evm_tries` into py-evm (its tries built and read through
`node.mpt`). Nothing is installed by importing this module (or `node`, or `node.evm`):
`install()` is called where the
node starts work, by `node.chain.Chain` and `ChainReader` (sequencer, follower, RPC front,
benches) and by the execution engines (`PyEvmExecutor`, `RevmExecutor`). It is idempotent.
"""

from __future__ import annotations

from functools import lru_cache
from typing import Any

import rlp
import rlp.codec
import trie.hexary
import trie.utils.nibbles
import trie.utils.nodes
from eth_hash.auto import keccak
from trie.constants import BLANK_NODE

__all__ = ["decoded", "install"]

_installed = False


def install() -> None:
    """Install the speed-ups in the libraries, process-wide (once)."""
    global _installed
    if _installed:
        return
    _installed = True
    from medledger.node import evm_tries  # imports py-evm: only a node that starts work pays for it

    evm_tries.install()
    _use_c_keccak()
    trie.hexary.decode_node = decode_node  # type: ignore[attr-defined]
    rlp.codec.encode_raw = encode_raw
    trie.hexary.encode_raw = encode_raw  # type: ignore[attr-defined]
    for module in (trie.utils.nibbles, trie.utils.nodes, trie.hexary):
        for name, fast in _NIBBLE_FUNCTIONS.items():
            if hasattr(module, name):
                setattr(module, name, fast)


def _use_c_keccak() -> None:
    try:
        from eth_hash.backends.pysha3 import backend
    except ImportError:  # pragma: no cover - safe-pysha3 is a dependency
        return
    keccak.hasher = backend.keccak256  # type: ignore[assignment]
    keccak.preimage = backend.preimage  # type: ignore[assignment]


def decode_node(encoded_node_or_hash: bytes | list[Any]) -> bytes | list[Any]:
    """`trie.utils.nodes.decode_node`, with the RLP decoding cached."""
    if encoded_node_or_hash == BLANK_NODE:
        return BLANK_NODE
    if isinstance(encoded_node_or_hash, list):
        return encoded_node_or_hash
    node: bytes | list[Any] = _copy(decoded(bytes(encoded_node_or_hash)))
    return node


_HEX_DIGITS = {digit: int(digit, 16) for digit in "0123456789abcdef"}
_trie_decode_nibbles = lru_cache(maxsize=1 << 16)(trie.utils.nibbles.decode_nibbles)
_trie_encode_nibbles = trie.utils.nibbles.encode_nibbles
_cached_encode_nibbles = lru_cache(maxsize=1 << 16)(_trie_encode_nibbles)


def bytes_to_nibbles(value: bytes) -> tuple[int, ...]:
    return tuple(map(_HEX_DIGITS.__getitem__, value.hex()))


def decode_nibbles(value: bytes) -> tuple[int, ...]:
    if type(value) is bytes:
        return _trie_decode_nibbles(value)
    return _trie_decode_nibbles.__wrapped__(value)


def encode_nibbles(nibbles: Any) -> bytes:
    if type(nibbles) is tuple:
        return _cached_encode_nibbles(nibbles)
    return _trie_encode_nibbles(nibbles)


_NIBBLE_FUNCTIONS = {
    "bytes_to_nibbles": bytes_to_nibbles,
    "decode_nibbles": decode_nibbles,
    "encode_nibbles": encode_nibbles,
}
_pyrlp_encode_raw = rlp.codec.encode_raw
_length_prefix = rlp.codec.length_prefix


def encode_raw(item: Any) -> bytes:
    """`rlp.codec.encode_raw`, telling the common types apart by `type` first."""
    kind = type(item)
    if kind is bytes or kind is bytearray:
        if len(item) == 1 and item[0] < 128:
            return item  # type: ignore[no-any-return]
        payload, offset = item, 128
    elif kind is list or kind is tuple:
        payload, offset = b"".join([encode_raw(x) for x in item]), 192
    else:
        return _pyrlp_encode_raw(item)  # type: ignore[no-any-return]
    return _length_prefix(len(payload), offset) + payload  # type: ignore[no-any-return]


@lru_cache(maxsize=1 << 16)
def decoded(encoded: bytes) -> Any:
    """`rlp.decode(encoded)`, cached and shared: never modify what it returns."""
    return rlp.decode(encoded)


def _copy(node: Any) -> Any:
    if type(node) is bytes:
        return node
    return [_copy(item) for item in node]
