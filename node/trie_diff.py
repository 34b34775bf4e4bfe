"""The keys whose values differ between two tries in one store (for the reference
engine's write set: what py-evm changed, read from the tries it wrote).

The walk goes down both tries together and skips every subtree whose hash is the same in
both, so it reads only the nodes on the changed paths (and, where the two tries are
shaped differently, the leaves under the node where their shapes part).
"""

from __future__ import annotations

from typing import Any

from trie.constants import BLANK_NODE_HASH

from medledger.node.mpt import decoded

__all__ = ["changed_keys"]

_Node = Any  # b"" | list: blank, leaf or extension (2 items), branch (17)
_HEX = "0123456789abcdef"


def changed_keys(db: Any, old_root: bytes, new_root: bytes) -> dict[bytes, tuple[bytes, bytes]]:
    """key → (old value, new value) for every key whose value differs; b"" is absent."""
    out: dict[str, tuple[bytes, bytes]] = {}
    _diff(db, _root(old_root), _root(new_root), "", out)
    return {bytes.fromhex(path): values for path, values in out.items()}


def _root(root: bytes) -> _Node:
    return b"" if root == BLANK_NODE_HASH else root


def _node(db: Any, ref: _Node) -> _Node:
    if type(ref) is list or ref == b"":
        return ref
    return decoded(db[ref])


def _diff(db: Any, old: _Node, new: _Node, path: str, out: dict[str, tuple[bytes, bytes]]) -> None:
    if old == new:
        return
    old_node, new_node = _node(db, old), _node(db, new)
    if type(old_node) is list and type(new_node) is list and len(old_node) == len(new_node) == 17:
        for index in range(16):
            _diff(db, old_node[index], new_node[index], path + _HEX[index], out)
        if old_node[16] != new_node[16]:
            out[path] = (old_node[16], new_node[16])
        return
    before, after = _leaves(db, old_node, path), _leaves(db, new_node, path)
    for key in before.keys() | after.keys():
        values = before.get(key, b""), after.get(key, b"")
        if values[0] != values[1]:
            out[key] = values


def _leaves(db: Any, node: _Node, path: str) -> dict[str, bytes]:
    if type(node) is not list:
        return {}
    if len(node) == 17:
        found = {path: node[16]} if node[16] else {}
        for index in range(16):
            found.update(_leaves(db, _node(db, node[index]), path + _HEX[index]))
        return found
    digits = node[0].hex()
    flag = digits[0]
    rest = digits[1:] if flag in "13" else digits[2:]
    if flag in "23":
        return {path + rest: node[1]}
    return _leaves(db, _node(db, node[1]), path + rest)
